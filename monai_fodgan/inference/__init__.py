"""Synthesis with a trained alpha-WGAN: sampling, reconstruction, interpolation, and loading bundles."""

from monai_fodgan.inference.loading import TrainedModel, load_bundle, load_weights
from monai_fodgan.inference.sampling import (
    BN_MODES,
    bn_mode,
    encode,
    interpolate_codes,
    latent_codes,
    reconstruct,
    sample_images,
    standing_statistics,
)
from monai_fodgan.inference.synthesis import MODES, SynthesisDataset, SynthesisEvaluator, SyntheticWriter

__all__ = [
    "TrainedModel", "load_bundle", "load_weights", "bn_mode", "encode", "interpolate_codes", "latent_codes",
    "reconstruct", "sample_images", "standing_statistics", "BN_MODES", "MODES", "SynthesisDataset", "SynthesisEvaluator", "SyntheticWriter",
]
