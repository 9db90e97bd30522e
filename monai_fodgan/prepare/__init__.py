"""Preparation: diffusion MRI (or ready FODs) -> a training set of standardised FODs.

Backends: MRtrix3 (``dwi2response dhollander`` + ``dwi2fod msmt_csd``) when installed, DIPY otherwise.
"""

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
