"""The validation loss of a DeepTaskGen run, once per epoch, for ReduceLROnPlateau (Serin et al. 2025, Methods).

:class:`ValidationLoss` is an Ignite handler: at the end of every epoch it puts the network in eval mode, computes
the CRR loss (the training loss, :class:`~monai_fodgan.taskgen.losses.CRRLoss`) over the validation subjects of
the prepared cohort (their all-frames connectivity maps, one sample per subject), stores the mean in
``engine.state.metrics["val_loss"]`` and appends ``{"epoch", "train_loss", "val_loss", "lr"}`` to a JSON-lines log.
Attach it before ``monai.handlers.LrScheduleHandler`` (``step_transform=lambda e: e.state.metrics["val_loss"]``):
Ignite runs handlers of one event in the order they were attached.

The CRR loss compares each prediction with the other subjects of its batch, so validation batches hold at least
two subjects: a last batch of one is merged into the one before it. Means are weighted by batch size.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from ignite.engine import Engine, Events

__all__ = ["ValidationLoss"]


def _batches(n: int, batch_size: int) -> list[range]:
    """Index ranges of ``n`` items in batches of ``batch_size``, a last batch of one merged into the previous one."""
    cuts = list(range(0, n, batch_size)) + [n]
    ranges = [range(a, b) for a, b in itertools.pairwise(cuts)]
    if len(ranges) > 1 and len(ranges[-1]) == 1:
        ranges[-2:] = [range(ranges[-2].start, n)]
    return ranges


class ValidationLoss:
    """Mean CRR loss over a validation dataset at the end of each epoch (see the module docstring).

    Args:
        dataset: items with ``image_key`` (K, X, Y, Z) and ``label_key`` (C, X, Y, Z) tensors, at least 2
            (e.g. :func:`monai_fodgan.taskgen.taskgen_dataset` of the ``validation`` split).
        batch_size: subjects per forward pass (paper's training batch: 10).
        log_file: JSON-lines file to append one line per epoch to (None: no file).
        image_key, label_key: item keys.

    Raises:
        ValueError: fewer than 2 validation subjects (the CRR loss needs another subject).
    """

    def __init__(self, dataset: Sequence, batch_size: int = 10, log_file: str | Path | None = None,
                 image_key: str = "image", label_key: str = "label") -> None:
        if len(dataset) < 2:
            raise ValueError(f"the validation loss needs at least 2 validation subjects, got {len(dataset)} "
                             "(prepare the cohort with --val 2 or more).")
        if batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (the CRR loss compares subjects), got {batch_size}.")
        self.dataset, self.batch_size = dataset, batch_size
        self.log_file = None if log_file is None else Path(log_file)
        self.image_key, self.label_key = image_key, label_key
        self.history: list[dict] = []

    def attach(self, engine: Engine) -> None:
        """Compute the loss at every ``EPOCH_COMPLETED`` of ``engine`` (a :class:`TaskMapTrainer`)."""
        engine.add_event_handler(Events.EPOCH_COMPLETED, self)

    @torch.no_grad()
    def compute(self, network: torch.nn.Module, loss_function: torch.nn.Module, device: torch.device) -> float:
        """Mean CRR loss of ``network`` (put in eval mode) over the dataset."""
        network.eval()
        total = 0.0
        for idx in _batches(len(self.dataset), self.batch_size):
            items = [self.dataset[i] for i in idx]
            x = torch.stack([torch.as_tensor(it[self.image_key]) for it in items]).to(device)
            y = torch.stack([torch.as_tensor(it[self.label_key]) for it in items]).to(device)
            total += float(loss_function(network(x), y)) * len(idx)
        return total / len(self.dataset)

    def __call__(self, engine: Engine) -> None:
        value = self.compute(engine.network, engine.loss_function, engine.state.device)
        engine.state.metrics["val_loss"] = value
        output = engine.state.output or {}
        line = {"epoch": engine.state.epoch, "train_loss": float(output.get("loss", float("nan"))), "val_loss": value,
                "lr": float(engine.optimizer.param_groups[0]["lr"])}
        self.history.append(line)
        engine.logger.info(f"Epoch: {engine.state.epoch} -- val_loss: {value:.4f}")
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with self.log_file.open("a") as f:
                f.write(json.dumps(line) + "\n")
