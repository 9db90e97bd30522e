"""Training of the alpha-WGAN: the Ignite/MONAI trainer, its losses, checkpoints and monitoring handlers."""

from monai_fodgan.engines.checkpoint import AlphaWGANCheckpoint, config_digest, load_checkpoint, rng_state, set_rng_state
from monai_fodgan.engines.handlers import LossLogger, NaNGuard, NonFiniteLossError, SampleSlices, TensorBoardLosses, scalars
from monai_fodgan.engines.losses import gradient_penalty
from monai_fodgan.engines.trainer import LOSS_KEYS, AlphaWGANTrainer, frozen

__all__ = [
    "AlphaWGANTrainer", "LOSS_KEYS", "frozen", "gradient_penalty", "AlphaWGANCheckpoint", "config_digest",
    "load_checkpoint", "rng_state", "set_rng_state", "LossLogger", "NaNGuard", "NonFiniteLossError",
    "SampleSlices", "TensorBoardLosses", "scalars",
]
