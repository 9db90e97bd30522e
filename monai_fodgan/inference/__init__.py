"""Synthesis with a trained alpha-WGAN: sampling, reconstruction, interpolation, and loading bundles."""

from monai_fodgan.inference.loading import TrainedModel, load_bundle, load_weights
from monai_fodgan.inference.sampling import bn_mode, encode, interpolate_codes, latent_codes, reconstruct, sample_images
from monai_fodgan.inference.synthesis import MODES, SynthesisDataset, SynthesisEvaluator, SyntheticWriter

__all__ = [
    "TrainedModel", "load_bundle", "load_weights", "bn_mode", "encode", "interpolate_codes", "latent_codes",
    "reconstruct", "sample_images", "MODES", "SynthesisDataset", "SynthesisEvaluator", "SyntheticWriter",
]
