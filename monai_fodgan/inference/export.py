"""The generator as ``run inference`` applies it, in one module that TorchScript and ONNX can export.

``run inference`` samples with BatchNorm in eval mode on *standing* statistics (recomputed from prior samples, see
:class:`~monai_fodgan.inference.standing_statistics`) and de-normalises the output to the data's units before writing
it. A bare generator exported with its trained running statistics and without the de-normalisation gives other images
(0.85 relative L2 on the demo model). :class:`FODSynthesizer` holds both steps: its BatchNorm buffers *are* the standing
statistics and its ``scales`` buffer the training data's SH band scales, so ``FODSynthesizer(z)`` equals what
``run inference`` writes for the code ``z`` (float rounding aside), in TorchScript and ONNX as in PyTorch. A model
trained with the population brain mask (``background``) keeps it: the generator multiplies its output by the mask
stored in the weights file, so exports write the same exact zero background.

It loads a whole bundle weights file (``models/model.pt`` or a training checkpoint: the generator under ``model`` and
the statistics under ``normalization``), which is what MONAI's ``ckpt_export`` / ``onnx_export`` hand
``load_state_dict`` when ``--key_in_ckpt`` is left out; the standing statistics are computed right after loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from monai_fodgan.inference.sampling import standing_statistics
from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["FODSynthesizer"]


class FODSynthesizer(nn.Module):
    """Latent codes (B, latent) -> FOD images (B, C, X, Y, Z) in the data's units, as ``run inference`` writes them.

    Args:
        generator: an :class:`~monai_fodgan.networks.FODGenerator` of the weights' architecture (its weights are
            replaced when weights are loaded).
        weights: a bundle weights file to load now (optional; MONAI's export commands load theirs themselves).

    Until weights are loaded the ``scales`` are NaN, so an unloaded synthesizer cannot pass for a trained one.

    Example::

        >>> from monai_fodgan.networks import FODGenerator, alpha_wgan_arguments
        >>> g = FODGenerator(**alpha_wgan_arguments("demo", (32, 32, 16))["generator"])
        >>> net = FODSynthesizer(g, "bundle/models/demo_model.pt").eval()
        >>> fod = net(torch.randn(2, 64))  # (2, 28, 32, 32, 16), de-normalised
    """

    def __init__(self, generator: nn.Module, weights: str | Path | None = None) -> None:
        super().__init__()
        self.generator = generator
        self.register_buffer("scales", torch.full((int(generator.out_channels),), float("nan")))
        if weights is not None:
            from monai_fodgan.engines.checkpoint import load_checkpoint

            self.load_state_dict(load_checkpoint(weights, map_location="cpu"))
        self.eval()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent) codes -> (B, C, X, Y, Z) SH coefficients in the data's units."""
        return self.generator(z) * self.scales.reshape(1, -1, 1, 1, 1)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Load a bundle weights file's contents (``model`` and ``normalization``), then set standing statistics.

        Raises:
            ValueError: ``state_dict`` is not a whole bundle weights file (e.g. only the generator's tensors, as
                ``--key_in_ckpt model`` gives), or has no normalisation statistics.
        """
        if "model" not in state_dict:
            raise ValueError(
                "FODSynthesizer loads a whole bundle weights file (models/model.pt: the generator under 'model' and the "
                "SH statistics under 'normalization'); got a plain state dict with keys like "
                f"{sorted(state_dict)[:3]}. With MONAI's ckpt_export / onnx_export leave out --key_in_ckpt.")
        if "normalization" not in state_dict:
            raise ValueError("the weights file has no 'normalization' statistics: it cannot be de-normalised to the data's "
                             "units (a bundle model.pt or training checkpoint has them).")
        result = self.generator.load_state_dict(state_dict["model"], strict=strict, assign=assign)
        if hasattr(self.generator, "set_output_rules"):  # the recipe's output rules, as load_weights applies them
            self.generator.set_output_rules(state_dict)
        stats = SHNormalization.from_dict(state_dict["normalization"])
        # float32 like the images SyntheticWriter de-normalises, so the product is the same number
        self.scales.copy_(stats.channel_scales(self.scales.numel()).to(torch.float32))
        self._set_standing_statistics()
        return result

    @torch.no_grad()
    def _set_standing_statistics(self) -> None:
        """Replace the generator's BatchNorm running statistics by the standing ones ``run inference`` uses."""
        layers = [m for m in self.generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        with standing_statistics(self.generator):  # the same codes, batches and order as SynthesisEvaluator
            standing = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in layers]
        for m, (mean, var, count) in zip(layers, standing):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)
        self.eval()
