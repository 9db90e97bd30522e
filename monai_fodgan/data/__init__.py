"""Data for demos and tests: analytic FOD images (and, later, the phantom population)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.data.stream import FODStreamDataset, StreamSampler, check_datalist
    from monai_fodgan.data.synthetic import crossing_fibre_image, fibre_lobe, oblique_affine

__all__ = ["crossing_fibre_image", "fibre_lobe", "oblique_affine", "FODStreamDataset", "StreamSampler", "check_datalist"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.data.stream": ["FODStreamDataset", "StreamSampler", "check_datalist"],
    "monai_fodgan.data.synthetic": ["crossing_fibre_image", "fibre_lobe", "oblique_affine"],
})
