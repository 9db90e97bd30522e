"""Training of the alpha-WGAN: the Ignite/MONAI trainer, its losses, checkpoints and monitoring handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.engines.checkpoint import AlphaWGANCheckpoint, config_digest, load_checkpoint, rng_state, set_rng_state
    from monai_fodgan.engines.handlers import LossLogger, NaNGuard, NonFiniteLossError, SampleSlices, TensorBoardLosses, scalars
    from monai_fodgan.engines.losses import gradient_penalty
    from monai_fodgan.engines.memorisation import MemorisationCheck, nearest_distances
    from monai_fodgan.engines.trainer import LOSS_KEYS, PHASES, AlphaWGANTrainer, frozen

__all__ = [
    "AlphaWGANTrainer", "LOSS_KEYS", "PHASES", "frozen", "gradient_penalty", "AlphaWGANCheckpoint", "config_digest",
    "load_checkpoint", "rng_state", "set_rng_state", "LossLogger", "NaNGuard", "NonFiniteLossError",
    "SampleSlices", "TensorBoardLosses", "scalars", "MemorisationCheck", "nearest_distances",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "monai_fodgan.engines.checkpoint": ["AlphaWGANCheckpoint", "config_digest", "load_checkpoint", "rng_state", "set_rng_state"],
    "monai_fodgan.engines.handlers": ["LossLogger", "NaNGuard", "NonFiniteLossError", "SampleSlices", "TensorBoardLosses", "scalars"],
    "monai_fodgan.engines.losses": ["gradient_penalty"],
    "monai_fodgan.engines.memorisation": ["MemorisationCheck", "nearest_distances"],
    "monai_fodgan.engines.trainer": ["LOSS_KEYS", "PHASES", "AlphaWGANTrainer", "frozen"],
})
