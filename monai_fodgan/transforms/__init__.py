"""FOD-aware MONAI transforms: rotations and reflections that rotate SH coefficients, grid changes,
normalisation and validation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.transforms.array import NormalizeSH, RandSHRotate, ResampleToGrid, SHFlip, SHRotate, ValidateSHImage
    from monai_fodgan.transforms.dictionary import (
        CropBraind,
        FixedSHRotated,
        L0Above,
        NormalizeSHd,
        RandSHFlipd,
        RandSHRotated,
        ResampleToGridd,
        SHFlipd,
        SHRotated,
        ValidateSHImaged,
    )
    from monai_fodgan.transforms.batch import BatchRandSHRotate
    from monai_fodgan.transforms.io import LoadFOD, LoadFODd
    from monai_fodgan.transforms.functional import flip_fod_image, resample_to_grid_affine, resample_world, rotate_fod_image
    from monai_fodgan.transforms.normalize import SHNormalization
    from monai_fodgan.transforms.presets import hcp_paper_crop, paper_rotation

__all__ = [
    "LoadFOD", "LoadFODd",
    "SHRotate", "SHRotated", "FixedSHRotated", "RandSHRotate", "RandSHRotated", "BatchRandSHRotate", "SHFlip", "SHFlipd", "RandSHFlipd",
    "ResampleToGrid", "ResampleToGridd", "NormalizeSH", "NormalizeSHd", "SHNormalization",
    "ValidateSHImage", "ValidateSHImaged", "CropBraind", "L0Above",
    "rotate_fod_image", "flip_fod_image", "resample_world", "resample_to_grid_affine",
    "hcp_paper_crop", "paper_rotation",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.transforms.array": ["NormalizeSH", "RandSHRotate", "ResampleToGrid", "SHFlip", "SHRotate", "ValidateSHImage"],
    "monai_fodgan.transforms.dictionary": ["CropBraind", "FixedSHRotated", "L0Above", "NormalizeSHd", "RandSHFlipd", "RandSHRotated", "ResampleToGridd", "SHFlipd", "SHRotated", "ValidateSHImaged"],
    "monai_fodgan.transforms.batch": ["BatchRandSHRotate"],
    "monai_fodgan.transforms.io": ["LoadFOD", "LoadFODd"],
    "monai_fodgan.transforms.functional": ["flip_fod_image", "resample_to_grid_affine", "resample_world", "rotate_fod_image"],
    "monai_fodgan.transforms.normalize": ["SHNormalization"],
    "monai_fodgan.transforms.presets": ["hcp_paper_crop", "paper_rotation"],
})
