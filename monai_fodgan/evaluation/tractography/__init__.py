"""Tractography backends (MRtrix3 and DIPY) behind one interface, :class:`~.common.Tracker`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.evaluation.tractography.common import (
        TrackingImage, TractRegions, Tracker, isotropic_grid, make_tracking_image, peak_amplitude,
    )
    from monai_fodgan.evaluation.tractography.dipy_backend import DipyTracker, voxel_frame_sh
    from monai_fodgan.evaluation.tractography.mrtrix_backend import MRtrixTracker
    from monai_fodgan.evaluation.tractography.registry import BACKENDS
    from monai_fodgan.evaluation.tractography.settings import ALGORITHMS, BACKEND_NAMES, TrackingSettings

__all__ = [
    "ALGORITHMS", "BACKEND_NAMES", "TrackingImage", "TrackingSettings", "TractRegions", "Tracker", "isotropic_grid",
    "make_tracking_image", "peak_amplitude", "DipyTracker", "voxel_frame_sh", "MRtrixTracker", "BACKENDS",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.evaluation.tractography.common": [
        "TrackingImage", "TractRegions", "Tracker", "isotropic_grid", "make_tracking_image", "peak_amplitude"],
    "monai_fodgan.evaluation.tractography.dipy_backend": ["DipyTracker", "voxel_frame_sh"],
    "monai_fodgan.evaluation.tractography.mrtrix_backend": ["MRtrixTracker"],
    "monai_fodgan.evaluation.tractography.registry": ["BACKENDS"],
    "monai_fodgan.evaluation.tractography.settings": ["ALGORITHMS", "BACKEND_NAMES", "TrackingSettings"],
})
