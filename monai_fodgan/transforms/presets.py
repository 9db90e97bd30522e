"""Named transform presets with the paper's numbers (Vellmer et al. 2025, Methods).

The numbers here are the paper's; bundle configs refer to these presets by name rather than repeating them.
"""

from __future__ import annotations

import numpy as np
from monai.config import KeysCollection
from monai.transforms import Compose, SpatialCropd

from monai_fodgan.transforms.dictionary import RandSHRotated, ResampleToGridd

__all__ = [
    "HCP_PAPER_CROP_START",
    "HCP_PAPER_CROP_END",
    "PAPER_GRID",
    "PAPER_ROTATION_SD_DEG",
    "hcp_paper_crop",
    "paper_rotation",
]

#: HCP grid (145 x 174 x 145 at 1.25 mm): sagittal slices 10-137, coronal 7-171, axial 2-129 kept (inclusive;
#: the paper's "Input data" section). End indices here are exclusive, as in Python slicing.
HCP_PAPER_CROP_START = (10, 7, 2)
HCP_PAPER_CROP_END = (138, 172, 130)
#: Training grid: 128 x 128 x 64 voxels of 1.25 x 1.61 x 2.5 mm after cropping (paper, "Input data").
PAPER_GRID = (128, 128, 64)
#: Rotation augmentation: Gaussian angles, mean 0, sd 1 degree (paper, "Input data").
PAPER_ROTATION_SD_DEG = 1.0


def hcp_paper_crop(keys: KeysCollection, mode: str = "bilinear") -> Compose:
    """The paper's fixed HCP crop then resampling to 128 x 128 x 64 (for 145 x 174 x 145 HCP images).

    Output spacing for HCP's 1.25 mm input: 1.25 x 1.61 x 2.5 mm, with the affine updated accordingly.
    """
    return Compose(
        [
            SpatialCropd(keys, roi_start=HCP_PAPER_CROP_START, roi_end=HCP_PAPER_CROP_END),
            ResampleToGridd(keys, spatial_size=PAPER_GRID, mode=mode),
        ]
    )


def paper_rotation(keys: KeysCollection, three_axes: bool = False, prob: float = 1.0, mode: str = "bilinear") -> RandSHRotated:
    """The paper's rotation augmentation: Gaussian angles (sd 1 degree) about one random main axis, or
    (``three_axes=True``) three successive rotations about x, y and z with independent angles."""
    sd = float(np.deg2rad(PAPER_ROTATION_SD_DEG))
    return RandSHRotated(keys, sd, sd, sd, prob=prob, distribution="gaussian", single_axis=not three_axes, mode=mode)
