"""Is the generator reproducing its training subjects? The evaluation's memorisation rule, during training.

The evaluation (``monai_fodgan.evaluate``) flags a synthetic subject that is closer to a training subject than every
held-out subject is. That answer comes after training; a generator trained too long on a small population starts to
reproduce it (the demo model at 7,000 iterations: 9 of 16 samples flagged, ``bundle/docs/README.md``). Run every
``interval`` iterations, the same rule tells a user when that begins, so that an earlier checkpoint can be chosen.

Distances are Euclidean over voxels and SH coefficients, in the training's normalised units on the training grid
(the ratio to the held-out distances is that of the data's units when the normalisation is one global scale). With
at most ``max_images`` training subjects the check is the evaluation's exactly; with more it compares with an evenly
spaced subset of them (reading thousands of paper-scale images at every check would cost minutes), so a sample that
reproduces a subject outside the subset is not caught there: the evaluation after training compares with all.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events

from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["MemorisationCheck", "nearest_distances"]

logger = logging.getLogger(__name__)


def nearest_distances(queries: torch.Tensor, images: Iterable[torch.Tensor]) -> torch.Tensor:
    """(N,) Euclidean distance of each of ``queries`` (N, C, X, Y, Z) to its nearest of ``images`` (each (C, X, Y, Z)),
    summed in float64; the images are read one at a time and compared with one query at a time, so the memory is the
    queries and two images (a paper-scale image is 117 MB)."""
    best = torch.full((queries.shape[0],), float("inf"), dtype=torch.float64)
    for image in images:
        image = torch.as_tensor(image, dtype=queries.dtype, device=queries.device)
        if image.shape != queries.shape[1:]:
            raise ValueError(f"image of shape {tuple(image.shape)} against samples of shape {tuple(queries.shape[1:])}: "
                             "the datalist's images must be on the training grid.")
        for k, query in enumerate(queries):
            d = float((query - image).pow(2).sum(dtype=torch.float64).sqrt())
            best[k] = min(float(best[k]), d)
    return best


class MemorisationCheck:
    """Every ``interval`` iterations (and at the end), sample ``n`` subjects and flag those closer to a training
    subject than every held-out subject is; a line per check in ``file`` (JSON) and in the log.

    Each line: ``iteration``, ``flagged`` (how many of ``n``), ``ratio_of_medians`` (median nearest-training distance
    of the samples over that of the held-out subjects; about 1 for a generator that does not copy, falling as it
    starts to), ``sample_distance`` and ``held_out_distance`` (medians) and ``threshold`` (the held-out subjects'
    smallest). Report only: training goes on, so the user picks the checkpoint (``checkpoint_<iteration>.pt``).

    Args:
        generator: the generator (may be DDP-wrapped; checked on rank 0 only).
        datalist_file: the training datalist; ``training_key`` are the training subjects, ``held_out_key`` the
            held-out ones (no held-out entries: the check is off, and says so once).
        normalization: the training's statistics (the samples are in normalised units; the images are normalised).
        interval: iterations between checks (0: only at the end).
        n: samples per check, from fixed codes (``seed``), so checks differ only by the training.
        max_images: at most this many training and this many held-out images (evenly spaced). Training images are read
            from disk at each check, one at a time (memory: the ``n`` samples and one image); the held-out images once,
            at the first check, and held while they are compared (up to ``max_images`` images: 3.7 GB at 32 paper-scale
            images).
        bn: BatchNorm while sampling, as :func:`monai_fodgan.inference.sample_images` (default: standing statistics,
            as the bundle's inference samples).
        lmax: the training's lmax (images are truncated to it, as the training data are).
    """

    def __init__(self, generator: torch.nn.Module, datalist_file: str | Path, normalization: SHNormalization | str | None,
                 file: str | Path, interval: int = 250, n: int = 8, max_images: int = 32, seed: int = 0,
                 bn: str = "standing", lmax: int = 6, training_key: str = "training", held_out_key: str = "validation") -> None:
        if int(n) < 1 or int(max_images) < 1 or int(interval) < 0:
            raise ValueError(f"MemorisationCheck needs n >= 1, max_images >= 1 and interval >= 0, got {n}, {max_images}, {interval}.")
        self.generator = generator
        self.datalist_file = Path(datalist_file)
        if normalization is not None and not isinstance(normalization, SHNormalization):
            normalization = SHNormalization.load(normalization)
        self.normalization = normalization
        self.file = Path(file)
        self.interval, self.n, self.max_images, self.seed = int(interval), int(n), int(max_images), int(seed)
        self.bn, self.lmax = bn, int(lmax)
        self.training_key, self.held_out_key = training_key, held_out_key
        self.training: list[dict] | None = None  # the datalist entries compared with (read at the first need)
        self.held: list[dict] | None = None
        self.held_out: torch.Tensor | None = None  # nearest-training distances of the held-out subjects (fixed)
        self.last: dict | None = None
        self.off = False  # set when a check failed (an unreadable held-out file): training goes on without it

    def load_subjects(self) -> None:
        """Read the training and held-out entries of the datalist (at most ``max_images`` of each).

        Raises:
            FODValidationError: the datalist cannot be read, or lacks a key.
            ValueError: no training or no held-out entries.
        """
        from monai_fodgan.data.datalist import evenly_spaced, load_datalist
        from monai_fodgan.data.stream import check_datalist

        self.training = evenly_spaced(load_datalist(self.datalist_file, self.training_key), self.max_images)
        self.held = evenly_spaced(load_datalist(self.datalist_file, self.held_out_key), self.max_images)
        if not self.training or not self.held:
            raise ValueError(f"{self.datalist_file} has no {self.held_out_key if self.training else self.training_key!r} "
                             "subjects to compare with")
        # headers only: a bad held-out file (training checks only its own) is named now, not at the first check
        check_datalist(self.held, lmax=self.lmax, source=f"{self.datalist_file} ({self.held_out_key})")

    def attach(self, engine: Engine) -> None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized() and dist.get_rank() != 0:
            return
        try:
            self.load_subjects()
        except (OSError, ValueError) as err:  # FODValidationError is a ValueError
            logger.info("memorisation check off: %s", err)
            return
        if self.interval:
            engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.interval), self)
        engine.add_event_handler(Events.COMPLETED, self)

    def _images(self, items: Sequence[dict]) -> Iterable[torch.Tensor]:
        """The images of ``items``, one at a time, normalised as the training's (CPU, float32)."""
        from monai_fodgan.data.recipe import _load_image

        for item in items:
            image = torch.as_tensor(np.asarray(_load_image(item["image"], self.lmax)), dtype=torch.float32)
            yield self.normalization.normalize(image, channel_dim=0) if self.normalization is not None else image

    @torch.no_grad()
    def check(self, device: str | torch.device | None = None) -> dict:
        """One check now (also outside training, e.g. of a saved model): the record written to ``file``, without
        ``iteration``. ``device``: where to sample (None: the generator's)."""
        from monai_fodgan.evaluation.generative import memorisation_flags

        # imported here: the inference package imports the engines
        from monai_fodgan.inference.sampling import sample_images

        # sampled on the training's device, compared on the CPU: no GPU memory beyond the sampling's
        if self.training is None or self.held is None:
            self.load_subjects()
        if self.held_out is None:
            held = None
            for k, image in enumerate(self._images(self.held)):
                if held is None:
                    held = torch.empty((len(self.held), *image.shape), dtype=image.dtype)
                held[k] = image
            self.held_out = nearest_distances(held, self._images(self.training))
            del held
        net = getattr(self.generator, "module", self.generator)
        samples = sample_images(net, self.n, seed=self.seed, bn=self.bn, device=device).float().cpu()
        nearest = nearest_distances(samples, self._images(self.training)).numpy()
        copies, threshold, ratio = memorisation_flags(nearest, self.held_out.numpy())  # the evaluation's rule
        return {"flagged": int(copies.sum()), "samples": self.n, "ratio_of_medians": ratio,
                "sample_distance": float(np.median(nearest)), "held_out_distance": float(np.median(self.held_out.numpy())),
                "threshold": threshold, "training_images": len(self.training), "held_out_images": len(self.held)}

    def __call__(self, engine: Engine) -> None:
        if self.off or (self.last is not None and self.last["iteration"] == engine.state.iteration):
            return  # off after a failure, or COMPLETED right after a check of the same iteration
        try:
            record = {"iteration": engine.state.iteration, **self.check(getattr(engine.state, "device", None))}
        except (OSError, ValueError, RuntimeError) as err:  # a report must not end the training it reports on
            self.off = True
            logger.warning("memorisation check off from iteration %d: %s", engine.state.iteration, err)
            return
        self.last = record
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        level = logging.WARNING if record["flagged"] else logging.INFO
        logger.log(level, "memorisation at iteration %d: %d of %d samples closer to a training subject than every "
                   "held-out subject is (median distance %.3g x the held-out subjects')%s", record["iteration"],
                   record["flagged"], self.n, record["ratio_of_medians"],
                   "; the generator may be reproducing its training subjects: a checkpoint from before may be the "
                   "better model (checkpoints_kept says how many are kept)" if record["flagged"] else "")
