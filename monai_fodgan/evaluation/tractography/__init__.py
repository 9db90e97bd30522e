"""Tractography backends (MRtrix3 and DIPY) behind one interface, :class:`~.common.Tracker`."""

from monai_fodgan.evaluation.tractography.common import (
    ALGORITHMS, TrackingImage, TrackingSettings, TractRegions, Tracker, isotropic_grid, make_tracking_image,
    peak_amplitude,
)
from monai_fodgan.evaluation.tractography.dipy_backend import DipyTracker, voxel_frame_sh
from monai_fodgan.evaluation.tractography.mrtrix_backend import MRtrixTracker

__all__ = [
    "ALGORITHMS", "TrackingImage", "TrackingSettings", "TractRegions", "Tracker", "isotropic_grid",
    "make_tracking_image", "peak_amplitude", "DipyTracker", "voxel_frame_sh", "MRtrixTracker", "BACKENDS",
]

#: backend name -> tracker class
BACKENDS = {"mrtrix": MRtrixTracker, "dipy": DipyTracker}
