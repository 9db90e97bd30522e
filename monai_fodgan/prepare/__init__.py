"""Preparation: diffusion MRI (or ready FODs) -> a training set of standardised FODs.

Backends: MRtrix3 (``dwi2response dhollander`` + ``dwi2fod msmt_csd``) when installed, DIPY otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.prepare.backends import FODResult, choose_backend, fod_dipy, fod_dipy_msmt, fod_mrtrix
    from monai_fodgan.prepare.cohort import PrepareConfig, input_hash, prepare_cohort, split_subjects
    from monai_fodgan.prepare.dwi import DWIError, DWIInput, load_dwi
    from monai_fodgan.prepare.gradients import GradientTable, fsl_to_world, read_fsl_gradients, world_to_fsl
    from monai_fodgan.prepare.inputs import read_table, scan_bids

__all__ = [
    "FODResult", "choose_backend", "fod_dipy", "fod_dipy_msmt", "fod_mrtrix", "PrepareConfig", "input_hash", "prepare_cohort",
    "split_subjects", "DWIError", "DWIInput", "load_dwi", "GradientTable", "fsl_to_world", "read_fsl_gradients",
    "world_to_fsl", "read_table", "scan_bids",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.prepare.backends": ["FODResult", "choose_backend", "fod_dipy", "fod_dipy_msmt", "fod_mrtrix"],
    "monai_fodgan.prepare.cohort": ["PrepareConfig", "input_hash", "prepare_cohort", "split_subjects"],
    "monai_fodgan.prepare.dwi": ["DWIError", "DWIInput", "load_dwi"],
    "monai_fodgan.prepare.gradients": ["GradientTable", "fsl_to_world", "read_fsl_gradients", "world_to_fsl"],
    "monai_fodgan.prepare.inputs": ["read_table", "scan_bids"],
})
