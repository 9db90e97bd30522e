"""The tractography backends by name."""

from __future__ import annotations

from monai_fodgan.evaluation.tractography.dipy_backend import DipyTracker
from monai_fodgan.evaluation.tractography.mrtrix_backend import MRtrixTracker
from monai_fodgan.evaluation.tractography.settings import BACKEND_NAMES

__all__ = ["BACKENDS"]

#: backend name -> tracker class
BACKENDS = {"mrtrix": MRtrixTracker, "dipy": DipyTracker}
assert tuple(BACKENDS) == BACKEND_NAMES
