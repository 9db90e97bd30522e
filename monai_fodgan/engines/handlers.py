"""Monitoring of alpha-WGAN training: losses to stdout and TensorBoard, sample slices as images, and a
guard that stops on a non-finite loss before it can reach a checkpoint.

TensorBoard scalars go through MONAI's ``TensorBoardStatsHandler``. The sample images do not use MONAI's
``TensorBoardImageHandler``: that one shows the engine's batch or output tensors (a 3D volume as an animated GIF of
one channel), while :class:`SampleSlices` draws new samples from fixed codes with standing statistics, de-normalised,
as one figure of several SH coefficients in three planes, also kept as a PNG file."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.handlers import TensorBoardStatsHandler

from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["scalars", "NonFiniteLossError", "NaNGuard", "LossLogger", "TensorBoardLosses", "SampleSlices"]

logger = logging.getLogger(__name__)


class NonFiniteLossError(FloatingPointError):
    """A loss or critic value became NaN or infinite; the message names it."""


def scalars(output: Any) -> dict[str, float]:
    """The scalar values of a trainer output (a dict, or MONAI's one-element list of a dict)."""
    if isinstance(output, (list, tuple)) and len(output) == 1:
        output = output[0]
    if not isinstance(output, dict):
        return {}
    return {k: float(v) for k, v in output.items() if isinstance(v, (torch.Tensor, float, int)) and
            (not isinstance(v, torch.Tensor) or v.numel() == 1)}


class NaNGuard:
    """Raise :class:`NonFiniteLossError` naming every non-finite term, right after the iteration.

    Raising (rather than terminating) skips the ``COMPLETED`` handlers, so no final model and no further
    checkpoint is written: the last good checkpoint stays the newest one.
    """

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        values = scalars(engine.state.output)
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            terms = ", ".join(f"{k} = {v}" for k, v in bad.items())
            raise NonFiniteLossError(
                f"iteration {engine.state.iteration}: non-finite {terms}; training stopped, the newest checkpoint "
                "is the last good one (lower the learning rate, or use bf16 rather than fp16).")


class LossLogger:
    """Log every loss term every ``interval`` iterations (logger ``monai_fodgan.train``, i.e. stdout), and
    optionally append them at full precision as JSON lines to ``file`` (one object per logged iteration,
    with its ``iteration``; a resumed run appends, so the last line of an iteration counts). Rank 0 only."""

    def __init__(self, interval: int = 10, name: str = "monai_fodgan.train", file: str | Path | None = None) -> None:
        self.interval = int(interval)
        self.logger = logging.getLogger(name)
        self.file = Path(file) if file else None

    def attach(self, engine: Engine) -> None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.interval), self)

    def __call__(self, engine: Engine) -> None:
        values = scalars(engine.state.output)
        text = " ".join(f"{k} {v:.5g}" for k, v in values.items() if k != "loss")
        self.logger.info("iteration %d/%s: %s", engine.state.iteration, getattr(engine, "max_iterations", None), text)
        if self.file is not None:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with self.file.open("a") as f:
                f.write(json.dumps({"iteration": engine.state.iteration, **values}) + "\n")


def _train_tags(output: Any) -> dict[str, float]:
    """Every scalar of a trainer output, tagged ``train/<name>`` (the TensorBoard tags of :class:`TensorBoardLosses`)."""
    return {f"train/{k}": v for k, v in scalars(output).items()}


class TensorBoardLosses(TensorBoardStatsHandler):
    """Write every loss term to TensorBoard (``log_dir``) as ``train/<name>`` every ``interval`` iterations: MONAI's
    :class:`~monai.handlers.TensorBoardStatsHandler`, with the writer made at ``attach`` and only by rank 0 (MONAI
    would make one per process, and every rank would leave an event file).

    The scalars are those :class:`LossLogger` writes to ``losses.jsonl``: the same values at the same iterations.
    """

    def __init__(self, log_dir: str | Path, interval: int = 1) -> None:
        self.log_dir = Path(log_dir)
        self.interval = int(interval)
        self._writer, self.internal_writer = None, False  # rank 0 makes it in attach()

    def attach(self, engine: Engine) -> None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        super().__init__(log_dir=str(self.log_dir), iteration_log=self.interval, epoch_log=False,
                         output_transform=_train_tags)
        super().attach(engine)

    @property
    def writer(self):  # noqa: ANN201 - torch.utils.tensorboard.SummaryWriter, imported by MONAI
        """The SummaryWriter (None before ``attach`` and on ranks other than 0)."""
        return self._writer


class SampleSlices:
    """Every ``interval`` iterations, draw ``n`` samples from fixed codes and save mid-slices of l = 0 and a
    few other coefficients in the three planes as a PNG (``out_dir/samples_<iteration>.png``), and to
    TensorBoard when ``tensorboard`` is given. The codes are drawn from their own seeded generator, so
    sampling does not move the training RNG (resume stays exact).

    Args:
        generator: the generator (may be DDP-wrapped).
        out_dir: folder of the PNGs.
        normalization: de-normalise before plotting (values in the data's units).
        interval: iterations between images.
        n: samples per image.
        coefficients: SH channels shown (MRtrix3 order; 0 is l = 0).
        seed: seed of the fixed codes.
        bn: BatchNorm while sampling, see :func:`monai_fodgan.inference.sample_images` (default: standing statistics;
            the trained statistics are restored afterwards, so training is not affected).
        tensorboard_dir: also write the image to TensorBoard there (e.g. beside :class:`TensorBoardLosses`).
    """

    def __init__(self, generator: torch.nn.Module, out_dir: str | Path, normalization: SHNormalization | str | None = None,
                 interval: int = 100, n: int = 2, coefficients: tuple[int, ...] = (0, 3, 10), seed: int = 1234,
                 bn: str = "standing", tensorboard_dir: str | Path | None = None) -> None:
        self.generator = generator
        self.out_dir = Path(out_dir)
        if normalization is not None and not isinstance(normalization, SHNormalization):
            normalization = SHNormalization.load(normalization)
        self.normalization = normalization
        self.interval, self.n, self.coefficients, self.seed = int(interval), int(n), tuple(coefficients), int(seed)
        self.bn = bn
        self.tensorboard_dir = Path(tensorboard_dir) if tensorboard_dir else None
        self.writer = None
        self.last: Path | None = None

    def attach(self, engine: Engine) -> None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        if self.tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.tensorboard_dir))
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.interval), self)
        engine.add_event_handler(Events.COMPLETED, self)

    @torch.no_grad()
    def __call__(self, engine: Engine) -> None:
        from monai_fodgan.inference.sampling import sample_images  # avoid a cycle at import
        from monai_fodgan.visualize import plot_coefficient_slices

        net = getattr(self.generator, "module", self.generator)
        images = sample_images(net, self.n, seed=self.seed, bn=self.bn, device=engine.state.device)
        if self.normalization is not None:
            images = self.normalization.denormalize(images, channel_dim=1)
        path = self.out_dir / f"samples_{engine.state.iteration:08d}.png"
        plot_coefficient_slices(images.cpu(), self.coefficients, path,
                                title=f"iteration {engine.state.iteration}: {self.n} samples")
        self.last = path
        if self.writer is not None:
            import matplotlib.image as mpimg

            rgb = np.asarray(mpimg.imread(path))[..., :3]
            self.writer.add_image("samples", rgb, engine.state.iteration, dataformats="HWC")
            self.writer.flush()
