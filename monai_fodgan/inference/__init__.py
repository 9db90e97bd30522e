"""Synthesis with a trained alpha-WGAN: sampling, reconstruction, interpolation, and loading bundles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.inference.checks import WeightsMismatchError, check_weights
    from monai_fodgan.inference.export import FODSynthesizer
    from monai_fodgan.inference.loading import TrainedModel, load_bundle, load_weights
    from monai_fodgan.inference.sampling import (
        BN_MODES,
        bn_mode,
        encode,
        generate,
        interpolate_codes,
        latent_codes,
        reconstruct,
        sample_images,
        standing_statistics,
    )
    from monai_fodgan.inference.synthesis import MODES, SynthesisDataset, SynthesisEvaluator, SyntheticWriter

__all__ = [
    "WeightsMismatchError", "check_weights", "FODSynthesizer",
    "TrainedModel", "load_bundle", "load_weights", "bn_mode", "encode", "generate", "interpolate_codes", "latent_codes",
    "reconstruct", "sample_images", "standing_statistics", "BN_MODES", "MODES", "SynthesisDataset", "SynthesisEvaluator", "SyntheticWriter",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.inference.checks": ["WeightsMismatchError", "check_weights"],
    "monai_fodgan.inference.export": ["FODSynthesizer"],
    "monai_fodgan.inference.loading": ["TrainedModel", "load_bundle", "load_weights"],
    "monai_fodgan.inference.sampling": ["BN_MODES", "bn_mode", "encode", "generate", "interpolate_codes", "latent_codes", "reconstruct", "sample_images", "standing_statistics"],
    "monai_fodgan.inference.synthesis": ["MODES", "SynthesisDataset", "SynthesisEvaluator", "SyntheticWriter"],
})
