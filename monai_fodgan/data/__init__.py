"""Data for demos and tests: analytic FOD images (and, later, the phantom population)."""

from monai_fodgan.data.datalist import load_datalist
from monai_fodgan.data.stream import FODStreamDataset, StreamSampler, augmentation_seed, check_datalist, grid_affine, image_grid
from monai_fodgan.data.synthetic import crossing_fibre_image, fibre_lobe, oblique_affine

__all__ = ["crossing_fibre_image", "fibre_lobe", "oblique_affine", "FODStreamDataset", "StreamSampler", "augmentation_seed",
           "check_datalist", "grid_affine", "image_grid", "load_datalist"]
