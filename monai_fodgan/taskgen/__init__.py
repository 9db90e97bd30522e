"""DeepTaskGen (Serin et al. 2025): task-fMRI contrast maps predicted from resting-state fMRI.

The second system of the package: rest connectivity maps (:mod:`.connectivity`), the contrast-regularised
reconstruction loss (:mod:`.losses`), the shallow attention U-Net (:mod:`.networks`), its trainer
(:mod:`.trainer`), datasets (:mod:`.data`), prediction averaged over sub-samples (:mod:`.inference`), metrics
(:mod:`.metrics`), baselines (:mod:`.baselines`) and the evaluation's numbers (:mod:`.evaluation`).

A synthetic population (:mod:`.demo_population`) and the cohort preparation (:mod:`.prepare`) are
command-line modules (``python -m monai_fodgan.taskgen.demo_population``, ``python -m
monai_fodgan.taskgen.prepare``), not imported here, so running them does not import them twice.
"""

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
from monai_fodgan.taskgen.evaluation import evaluate_cohort, map_metrics, phenotype_r2, write_metrics
from monai_fodgan.taskgen.inference import load_network_weights, predict_cohort, predict_subject, save_checkpoint
from monai_fodgan.taskgen.losses import CRRLoss, crr_loss, masked_pairwise_mse
from monai_fodgan.taskgen.metrics import (
    dice_auc,
    diagonality_index,
    identification_accuracy,
    pearson_per_contrast,
    subject_correlation_matrix,
)
from monai_fodgan.taskgen.networks import PRESETS, TaskAttentionUNet, prepare_finetuning, task_network
from monai_fodgan.taskgen.trainer import TaskMapTrainer

__all__ = [
    "evaluate_cohort", "map_metrics", "phenotype_r2", "write_metrics", "load_network_weights", "save_checkpoint",
    "predict_cohort", "predict_subject", "TavorRegression", "group_average", "TaskMapTrainer", "load_gm_mask",
    "taskgen_dataset", "PRESETS", "TaskAttentionUNet", "prepare_finetuning", "task_network", "CRRLoss", "crr_loss",
    "masked_pairwise_mse", "dice_auc", "diagonality_index", "identification_accuracy", "pearson_per_contrast",
    "subject_correlation_matrix", "ConnectivityAccumulator", "connectivity_maps", "frame_windows",
    "dual_regression_stage1", "masked_timeseries", "network_connectome", "pooled_connectivity_maps", "unmask",
]
