"""Inference as a MONAI workflow: a dataset of what to synthesise, an ``Evaluator`` that runs the generator
(and encoder), and a handler that writes the de-normalised FODs as NIfTI on the training grid.

Three modes:

- ``sample``: ``num_samples`` subjects ``sub-synth0001 ...`` from codes seeded per subject (:func:`latent_codes`);
- ``reconstruct``: G(E(x)) of given real FOD images, named ``<subject>_recon``;
- ``interpolate``: ``steps`` images along the line between the codes of two real subjects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from monai.engines import Evaluator
from monai.inferers import Inferer, SimpleInferer
from torch import nn
from torch.utils.data import Dataset

from monai_fodgan.engines.logs import quiet_fresh_start
from monai_fodgan.inference.sampling import BN_MODES, bn_mode, latent_codes, standing_statistics
from monai_fodgan.io import atomic_output, save_fod
from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["SynthesisDataset", "SynthesisEvaluator", "SyntheticWriter", "MODES"]

MODES = ("sample", "reconstruct", "interpolate")


class SynthesisDataset(Dataset):
    """What to synthesise, one item per output image.

    Args:
        mode: ``"sample"``, ``"reconstruct"`` or ``"interpolate"``.
        latent_size: code length (``sample``).
        num_samples: subjects to draw (``sample``).
        seed: seed of the codes; subject k always gets the same code.
        images: real subjects (dicts with ``image`` and optional ``subject``) for ``reconstruct``; the first two
            for ``interpolate``.
        transform: preprocessing of real images (load, validate, normalise), as in training.
        steps: number of interpolation points (both ends included).
    """

    def __init__(self, mode: str = "sample", latent_size: int = 0, num_samples: int = 1, seed: int = 0,
                 images: Sequence[Mapping[Hashable, Any]] | None = None, transform: Callable | None = None,
                 steps: int = 5) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        images = list(images or [])
        if mode == "reconstruct" and not images:
            raise ValueError("mode 'reconstruct' needs images to reconstruct (e.g. the datalist's validation list).")
        if mode == "interpolate" and len(images) < 2:
            raise ValueError(f"mode 'interpolate' needs two images, got {len(images)}.")
        if mode == "sample" and (num_samples < 1 or latent_size < 1):
            raise ValueError(f"mode 'sample' needs num_samples >= 1 and latent_size >= 1, got {num_samples}, {latent_size}.")
        self.mode, self.transform, self.steps = mode, transform, int(steps)
        self.images = images
        self.codes = latent_codes(num_samples, latent_size, seed) if mode == "sample" else None

    def __len__(self) -> int:
        return {"sample": lambda: len(self.codes), "reconstruct": lambda: len(self.images),
                "interpolate": lambda: self.steps}[self.mode]()

    def _load(self, item: Mapping[Hashable, Any]) -> torch.Tensor:
        d = self.transform(dict(item)) if self.transform is not None else dict(item)
        return torch.as_tensor(d["image"]).float()

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self.mode == "sample":
            return {"z": self.codes[i], "name": f"sub-synth{i + 1:04d}"}
        if self.mode == "reconstruct":
            item = self.images[i]
            name = item.get("subject") or Path(str(item["image"])).name.split(".")[0]
            return {"image": self._load(item), "name": f"{name}_recon"}
        a, b = self.images[0], self.images[1]
        t = i / max(self.steps - 1, 1)
        names = [x.get("subject") or Path(str(x["image"])).name.split(".")[0] for x in (a, b)]
        return {"image_a": self._load(a), "image_b": self._load(b), "t": torch.tensor(t),
                "name": f"interp_{names[0]}_{names[1]}_{i:02d}"}


class SynthesisEvaluator(Evaluator):
    """Runs the generator on each batch of a :class:`SynthesisDataset`; ``state.output`` holds ``pred``
    (normalised images, (B, C, X, Y, Z)), ``name`` and, when reconstructing, the normalised real ``image``
    (so a metric such as ``MeanAbsoluteError`` on ``from_engine(["pred", "image"])`` validates G(E(x))).

    Args:
        device: where the networks run.
        val_data_loader: loader over a :class:`SynthesisDataset`.
        network: the generator.
        encoder: the encoder (needed by ``reconstruct`` and ``interpolate``).
        inferer: how the generator is applied to codes (default ``SimpleInferer``).
        bn: the generator's BatchNorm: ``"standing"`` (eval mode, statistics of prior samples computed once at the
            start; the default), ``"running"`` (eval mode, training statistics) or ``"batch"`` (training mode, as the
            published code sampled; a sample then depends on the others in its batch).
        val_handlers: handlers, e.g. :class:`SyntheticWriter`.
    """

    def __init__(self, device: str | torch.device, val_data_loader: Any, network: nn.Module,
                 encoder: nn.Module | None = None, inferer: Inferer | None = None, bn: str = "standing",
                 val_handlers: Sequence | None = None, **kwargs: Any) -> None:
        super().__init__(device=device, val_data_loader=val_data_loader, val_handlers=val_handlers, **kwargs)
        self.network, self.encoder = network, encoder
        self.inferer = inferer if inferer is not None else SimpleInferer()
        if bn not in BN_MODES:
            raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}.")
        self.bn = bn
        self._standing: standing_statistics | None = None
        self.add_event_handler(Events.STARTED, self._prepare_generator)
        self.add_event_handler(Events.COMPLETED, self._restore_generator)
        quiet_fresh_start(self)  # an evaluator never resumes: Ignite's "resuming from iteration 0" is noise

    def _prepare_generator(self, engine: Engine) -> None:
        if self.bn == "standing":  # once per run, so every batch is normalised alike
            self._standing = standing_statistics(self.network)
            self._standing.__enter__()
        else:
            self.network.train(self.bn == "batch")

    def _restore_generator(self, engine: Engine) -> None:
        if self._standing is not None:
            self._standing.__exit__(None, None, None)
            self._standing = None

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            raise ValueError("reconstruction and interpolation need the encoder (encoder=...).")
        with bn_mode(self.encoder, False):
            return self.encoder(x.to(self.state.device))

    @torch.no_grad()
    def _iteration(self, engine: Engine, batchdata: dict[str, Any]) -> dict[str, Any]:
        if "z" in batchdata:
            z = batchdata["z"].to(engine.state.device)
        elif "image_a" in batchdata:
            t = batchdata["t"].to(engine.state.device).float()[:, None]
            z = (1 - t) * self._encode(batchdata["image_a"]) + t * self._encode(batchdata["image_b"])
        else:
            z = self._encode(batchdata["image"])
        pred = self.inferer(z, self.network)
        out = {"pred": pred.float(), "name": list(batchdata["name"])}
        if "image" in batchdata:  # reconstruction: the real image beside G(E(x)), for a validation metric
            out["image"] = batchdata["image"].to(engine.state.device).float()
        return out


class SyntheticWriter:
    """Write each predicted image de-normalised as ``out_dir/<name>.nii.gz`` on the training grid, and at the
    end ``out_dir/synthetic.json`` listing them (a datalist for evaluation).

    Args:
        out_dir: output folder.
        normalization: the training statistics (de-normalisation); None writes normalised values.
        affine: (4, 4) voxel-to-world matrix of the training grid.
    """

    def __init__(self, out_dir: str | Path, normalization: SHNormalization | None, affine: torch.Tensor | Any) -> None:
        self.out_dir = Path(out_dir)
        self.normalization = normalization
        self.affine = torch.as_tensor(affine, dtype=torch.float64)
        self.written: list[Path] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, lambda _: self.written.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        engine.add_event_handler(Events.COMPLETED, self.write_list)

    def __call__(self, engine: Engine) -> None:
        pred, names = engine.state.output["pred"].cpu(), engine.state.output["name"]
        if self.normalization is not None:
            pred = self.normalization.denormalize(pred, channel_dim=1)
        for img, name in zip(pred, names):
            self.written.append(save_fod(img, self.out_dir / f"{name}.nii.gz", affine=self.affine))

    def write_list(self, engine: Engine) -> None:
        listing = {"synthetic": [{"image": p.name, "subject": p.name.split(".")[0]} for p in self.written]}
        with atomic_output(self.out_dir / "synthetic.json") as tmp:
            tmp.write_text(json.dumps(listing, indent=2) + "\n")
        print(f"wrote {len(self.written)} images to {self.out_dir.resolve()}")
