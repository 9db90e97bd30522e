"""The choices of a preparation run, importable without numpy, torch or DIPY (the command line's ``--help``)."""

from __future__ import annotations

__all__ = ["BACKEND_CHOICES", "CROPS", "RESAMPLING_WARN_FACTOR"]

#: "cohort": one brain box for all subjects (as the paper); "subject": each its own; "hcp": the paper's HCP slices
CROPS = ("cohort", "subject", "hcp")

#: "auto": MRtrix3 when installed, else DIPY single-shell CSD; "dipy-msmt" needs cvxpy
BACKEND_CHOICES = ("auto", "mrtrix", "dipy", "dipy-msmt")

#: a subject whose voxels the training grid scales by more than this in any axis (up or down) is reported
RESAMPLING_WARN_FACTOR = 2.0
