"""Numbers of a DeepTaskGen evaluation: model vs the group-average and Tavor baselines, and phenotype prediction.

What :func:`evaluate_cohort` measures on the held-out subjects of a prepared cohort (:mod:`.prepare`), inside
its grey-matter mask (metrics defined in :mod:`.metrics`):

* per contrast: mean Pearson r of predicted vs actual maps, the diagonality index and top-1 identification of
  the subject x subject correlation matrix, mean Dice-AUC (top 5-50%);
* the same for the two baselines (:mod:`.baselines`): the training subjects' group average, and Tavor-style
  regression fitted on the training subjects' all-frames connectivity maps;
* phenotype prediction (when a participants table is given): ridge regression (``RidgeCV``, alphas 10^-3..10^5,
  features standardised) with K-fold cross-validation over the evaluated subjects, out-of-fold R^2, from the
  predicted maps, the actual maps and the rest connectome (upper triangle of the K x K matrix), as the paper's
  comparison. scikit-learn comes with nilearn.

The report (``report.html``, figures and the verdict, :mod:`.report`) is built from this dictionary
elsewhere; here only numbers, so they are tested on their own.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_fodgan.io import atomic_output
from monai_fodgan.taskgen.baselines import TavorRegression, group_average
from monai_fodgan.taskgen.metrics import (
    DICE_FRACTIONS,
    dice_auc,
    dice_curve,
    diagonality_index,
    diagonality_normalised,
    identification_accuracy,
    pearson_per_contrast,
    subject_correlation_matrix,
)

__all__ = ["map_metrics", "phenotype_r2", "phenotype_prediction", "evaluate_cohort", "write_metrics"]


def map_metrics(pred: np.ndarray, actual: np.ndarray) -> dict:
    """(S, C, V) predicted and actual maps -> per-contrast lists and their means (see the module docstring).

    Also: ``diagonality_normalised`` (the paper's form, divided by the mean diagonal), ``matrix`` (the S x S
    subject correlation matrix averaged over contrasts) and ``dice_curve`` (Dice at each top fraction of
    ``dice_fractions``, averaged over subjects and contrasts), for the report's figures."""
    s, c = actual.shape[:2]
    r = pearson_per_contrast(pred, actual).mean(axis=0)
    mats = [subject_correlation_matrix(pred[:, k], actual[:, k]) for k in range(c)]
    diag = [diagonality_index(m) for m in mats]
    diag_norm = [diagonality_normalised(m) for m in mats]
    top1 = [identification_accuracy(m) for m in mats]
    dice = [float(np.mean([dice_auc(pred[i, k], actual[i, k]) for i in range(s)])) for k in range(c)]
    curve = np.mean([dice_curve(pred[i, k], actual[i, k]) for i in range(s) for k in range(c)], axis=0)
    return {"pearson_r": r.tolist(), "diagonality": diag, "diagonality_normalised": diag_norm, "top1": top1,
            "dice_auc": dice,
            "mean": {"pearson_r": float(np.mean(r)), "diagonality": float(np.mean(diag)),
                     "diagonality_normalised": float(np.mean(diag_norm)), "top1": float(np.mean(top1)),
                     "dice_auc": float(np.mean(dice))},
            "chance_top1": 1.0 / s, "matrix": np.mean(mats, axis=0).round(5).tolist(),
            "dice_fractions": [float(f) for f in DICE_FRACTIONS], "dice_curve": curve.round(5).tolist()}


def phenotype_r2(features: np.ndarray, target: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Out-of-fold R^2 of ridge regression (``RidgeCV`` on standardised features) with ``folds``-fold CV."""
    return phenotype_prediction(features, target, folds, seed)[0]


def phenotype_prediction(features: np.ndarray, target: np.ndarray, folds: int = 5, seed: int = 0) -> tuple[float, np.ndarray]:
    """:func:`phenotype_r2` and the out-of-fold predictions (S,) it is computed from."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(target) < folds:
        raise ValueError(f"{folds}-fold cross-validation needs at least {folds} subjects, got {len(target)}.")
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 5, 17)))
    predicted = cross_val_predict(model, features.reshape(len(target), -1), target,
                                  cv=KFold(folds, shuffle=True, random_state=seed))
    return float(r2_score(target, predicted)), predicted


def _masked(path: Path, mask: np.ndarray) -> np.ndarray:
    """(X, Y, Z, N) NIfTI -> (N, V) values in the mask."""
    data = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
    return (data[..., None] if data.ndim == 3 else data)[mask].T


def evaluate_cohort(prepared: str | Path, predictions: str | Path, split: str = "validation",
                    participants: str | Path | None = None, phenotype: str = "phenotype", folds: int = 5,
                    seed: int = 0) -> dict:
    """Evaluate ``predictions/<subject>_pred.nii.gz`` of the ``split`` subjects of a prepared cohort.

    Returns:
        ``{"subjects", "contrasts", "model", "group_average", "tavor", "phenotype_r2"?}`` (JSON-ready).
    """
    prepared, predictions = Path(prepared), Path(predictions)
    datalist = json.loads((prepared / "datalist.json").read_text())
    gm_path = prepared / "gm_mask.nii.gz"
    mask = np.asarray(nib.load(str(gm_path if gm_path.is_file() else prepared / "mask.nii.gz")).dataobj) > 0
    sidecar = {p.stem: json.loads(p.read_text()) for p in (prepared / "native").glob("*.json")}
    evaluated = [e["subject"] for e in datalist[split]]
    train = sorted({e["subject"] for e in datalist["training"]})
    actual = np.stack([_masked(prepared / sidecar[s]["files"]["task"], mask) for s in evaluated])
    pred = np.stack([_masked(predictions / f"{s}_pred.nii.gz", mask) for s in evaluated])
    y_train = np.stack([_masked(prepared / sidecar[s]["files"]["task"], mask) for s in train])
    x_train = np.stack([_masked(prepared / sidecar[s]["files"]["conn"], mask) for s in train])
    x_eval = np.stack([_masked(prepared / sidecar[s]["files"]["conn"], mask) for s in evaluated])
    baselines = {"group_average": np.repeat(group_average(y_train)[None], len(evaluated), axis=0),
                 "tavor": TavorRegression().fit(x_train, y_train).predict(x_eval)}
    result = {"subjects": evaluated, "contrasts": int(actual.shape[1]), "gm_voxels": int(mask.sum()),
              "model": map_metrics(pred, actual), **{k: map_metrics(v, actual) for k, v in baselines.items()}}
    if participants is not None:
        path = Path(participants)
        text = path.read_text().splitlines()
        dialect = csv.excel_tab if "\t" in text[0] else csv.excel
        rows = {r["participant_id"]: float(r[phenotype]) for r in csv.DictReader(text, dialect=dialect)}
        target = np.array([rows[s] for s in evaluated])
        connectomes = np.stack([np.load(prepared / sidecar[s]["files"]["connectome"]) for s in evaluated])
        upper = np.triu_indices(connectomes.shape[1], 1)
        features = {"predicted_maps": pred, "actual_maps": actual,
                    "rest_connectome": connectomes[:, upper[0], upper[1]]}
        fitted = {k: phenotype_prediction(v, target, folds, seed) for k, v in features.items()}
        result["phenotype_r2"] = {**{k: r2 for k, (r2, _) in fitted.items()}, "folds": folds, "phenotype": phenotype,
                                  "target": target.tolist(),
                                  "predicted": {k: p.round(6).tolist() for k, (_, p) in fitted.items()}}
    return result


def write_metrics(path: str | Path, prepared: str | Path, predictions: str | Path, **kwargs: object) -> dict:
    """:func:`evaluate_cohort` written to ``path`` as JSON (``metrics.json``); returns the dictionary."""
    result = evaluate_cohort(prepared, predictions, **kwargs)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(result, indent=1) + "\n")
    return result
