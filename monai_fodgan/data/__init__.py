"""Data for demos and tests: analytic FOD images (and, later, the phantom population)."""

from monai_fodgan.data.datalist import load_datalist
from monai_fodgan.data.stream import FODStreamDataset, StreamSampler, check_datalist
from monai_fodgan.data.synthetic import crossing_fibre_image, fibre_lobe, oblique_affine

__all__ = ["crossing_fibre_image", "fibre_lobe", "oblique_affine", "FODStreamDataset", "StreamSampler", "check_datalist",
           "load_datalist"]
