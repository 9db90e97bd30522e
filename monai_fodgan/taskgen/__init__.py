"""DeepTaskGen (Serin et al. 2025): task-fMRI contrast maps predicted from resting-state fMRI.

The second system of the package: rest connectivity maps (:mod:`.connectivity`), the contrast-regularised
reconstruction loss (:mod:`.losses`), the shallow attention U-Net (:mod:`.networks`), its trainer
(:mod:`.trainer`), datasets (:mod:`.data`), prediction averaged over sub-samples (:mod:`.inference`), metrics
(:mod:`.metrics`), baselines (:mod:`.baselines`), the evaluation's numbers (:mod:`.evaluation`) and its report
(:mod:`.report`, :mod:`.figures`), the validation loss for the learning-rate schedule (:mod:`.handlers`) and the
network a run starts from, fine-tuning included (:mod:`.finetuning`). Names are imported on first use.

A synthetic population (:mod:`.demo_population`) and the cohort preparation (:mod:`.prepare`) are
command-line modules (``python -m monai_fodgan.taskgen.demo_population``, ``python -m
monai_fodgan.taskgen.prepare``), not imported here, so running them does not import them twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.taskgen.baselines import TavorRegression, group_average
    from monai_fodgan.taskgen.connectivity import (
        ConnectivityAccumulator,
        connectivity_maps,
        dual_regression_stage1,
        frame_windows,
        masked_timeseries,
        network_connectome,
        pooled_connectivity_maps,
        unmask,
    )
    from monai_fodgan.taskgen.data import load_gm_mask, taskgen_dataset
    from monai_fodgan.taskgen.evaluation import (
        evaluate_cohort,
        map_metrics,
        phenotype_prediction,
        phenotype_r2,
        write_metrics,
    )
    from monai_fodgan.taskgen.finetuning import (
        checkpoint_meta,
        finetuning_network,
        training_network,
    )
    from monai_fodgan.taskgen.handlers import ValidationLoss
    from monai_fodgan.taskgen.inference import (
        load_network_weights,
        predict_cohort,
        predict_subject,
        save_checkpoint,
    )
    from monai_fodgan.taskgen.losses import CRRLoss, crr_loss, masked_pairwise_mse
    from monai_fodgan.taskgen.metrics import (
        diagonality_index,
        diagonality_normalised,
        dice_auc,
        dice_curve,
        identification_accuracy,
        pearson_per_contrast,
        subject_correlation_matrix,
    )
    from monai_fodgan.taskgen.networks import (
        PRESETS,
        TaskAttentionUNet,
        prepare_finetuning,
        task_network,
    )
    from monai_fodgan.taskgen.report import (
        taskgen_verdict,
        write_evaluation,
        write_taskgen_report,
    )
    from monai_fodgan.taskgen.trainer import TaskMapTrainer

__all__ = [
    "PRESETS",
    "CRRLoss",
    "ConnectivityAccumulator",
    "TaskAttentionUNet",
    "TaskMapTrainer",
    "TavorRegression",
    "ValidationLoss",
    "checkpoint_meta",
    "connectivity_maps",
    "crr_loss",
    "diagonality_index",
    "diagonality_normalised",
    "dice_auc",
    "dice_curve",
    "dual_regression_stage1",
    "evaluate_cohort",
    "finetuning_network",
    "frame_windows",
    "group_average",
    "identification_accuracy",
    "load_gm_mask",
    "load_network_weights",
    "map_metrics",
    "masked_pairwise_mse",
    "masked_timeseries",
    "network_connectome",
    "pearson_per_contrast",
    "phenotype_prediction",
    "phenotype_r2",
    "pooled_connectivity_maps",
    "predict_cohort",
    "predict_subject",
    "prepare_finetuning",
    "save_checkpoint",
    "subject_correlation_matrix",
    "task_network",
    "taskgen_dataset",
    "taskgen_verdict",
    "training_network",
    "unmask",
    "write_evaluation",
    "write_metrics",
    "write_taskgen_report",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.taskgen.baselines": ["TavorRegression", "group_average"],
    "monai_fodgan.taskgen.connectivity": [
        "ConnectivityAccumulator", "connectivity_maps", "dual_regression_stage1", "frame_windows",
        "masked_timeseries", "network_connectome", "pooled_connectivity_maps", "unmask",
    ],
    "monai_fodgan.taskgen.data": ["load_gm_mask", "taskgen_dataset"],
    "monai_fodgan.taskgen.evaluation": [
        "evaluate_cohort", "map_metrics", "phenotype_prediction", "phenotype_r2", "write_metrics",
    ],
    "monai_fodgan.taskgen.finetuning": ["checkpoint_meta", "finetuning_network", "training_network"],
    "monai_fodgan.taskgen.handlers": ["ValidationLoss"],
    "monai_fodgan.taskgen.inference": [
        "load_network_weights", "predict_cohort", "predict_subject", "save_checkpoint",
    ],
    "monai_fodgan.taskgen.losses": ["CRRLoss", "crr_loss", "masked_pairwise_mse"],
    "monai_fodgan.taskgen.metrics": [
        "diagonality_index", "diagonality_normalised", "dice_auc", "dice_curve", "identification_accuracy",
        "pearson_per_contrast", "subject_correlation_matrix",
    ],
    "monai_fodgan.taskgen.networks": ["PRESETS", "TaskAttentionUNet", "prepare_finetuning", "task_network"],
    "monai_fodgan.taskgen.report": ["taskgen_verdict", "write_evaluation", "write_taskgen_report"],
    "monai_fodgan.taskgen.trainer": ["TaskMapTrainer"],
})
