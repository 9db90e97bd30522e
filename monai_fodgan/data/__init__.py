"""Data for demos and tests: analytic FOD images, the phantom population, the training sample stream, datalists and
the float16 training arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.data.datalist import load_datalist
    from monai_fodgan.data.recipe import copy_angles, population_mask, recipe_normalization, rotated_copies, training_list
    from monai_fodgan.data.stream import FODStreamDataset, StreamSampler, augmentation_seed, check_datalist, grid_affine, image_grid
    from monai_fodgan.data.synthetic import crossing_fibre_image, fibre_lobe, oblique_affine

__all__ = ["crossing_fibre_image", "fibre_lobe", "oblique_affine", "FODStreamDataset", "StreamSampler", "augmentation_seed",
           "check_datalist", "grid_affine", "image_grid", "load_datalist", "copy_angles", "population_mask",
           "recipe_normalization", "rotated_copies", "training_list"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.data.datalist": ["load_datalist"],
    "monai_fodgan.data.recipe": ["copy_angles", "population_mask", "recipe_normalization", "rotated_copies", "training_list"],
    "monai_fodgan.data.stream": ["FODStreamDataset", "StreamSampler", "augmentation_seed", "check_datalist", "grid_affine",
                                 "image_grid"],
    "monai_fodgan.data.synthetic": ["crossing_fibre_image", "fibre_lobe", "oblique_affine"],
})
