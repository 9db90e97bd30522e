"""Synthesis as a MONAI Label infer task: new subjects from a seed (or given latent codes), written as NIfTI FODs.

MONAI Label's ``POST /infer/<model>`` needs an ``image`` (or an uploaded file); a generator has no input image,
so the task ignores it: pass any id, e.g. ``?image=synthesis``. What to draw comes from the request's ``params``:

- ``seed`` (default 0), ``num_samples`` (default 1): subjects ``sub-synth0001 ...`` from the codes of
  :func:`monai_fodgan.inference.latent_codes`, so subject k of a seed is the one that
  ``python -m monai.bundle run inference --seed SEED`` writes as ``sub-synthK``;
- or ``latent``: one code (a list of ``latent_size`` numbers) or several (a list of such lists);
- ``bn``: the generator's BatchNorm when sampling (``standing``, the bundle's default; ``running``; ``batch``).

Every image is de-normalised to the data's units and written on the training grid's affine to
``<work_dir>/synthetic/seed-<seed>/`` (or ``latent-<hash>/``) with a ``synthetic.json`` listing; the response
carries the first image and, in ``params``, the written files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import torch
from fastapi import HTTPException
from monailabel.interfaces.tasks.infer_v2 import InferTask, InferType

from lib.settings import AppSettings

logger = logging.getLogger(__name__)

__all__ = ["FODSynthesis"]

MAX_SAMPLES = 64  # per request: each demo subject is 0.9 MB, each paper-scale one 117 MB


class FODSynthesis(InferTask):
    """Draw synthetic FOD subjects with the bundle's generator (no input image).

    Args:
        settings: the app's paths (bundle, weights, configs, work_dir, device).
    """

    def __init__(self, settings: AppSettings) -> None:
        super().__init__(
            type=InferType.OTHERS, labels=None, dimension=3,
            description="Synthetic whole-brain FODs (28 SH coefficients, lmax 6) from a seed or latent codes; "
                        "the input image is ignored",
            config={"seed": 0, "num_samples": 1, "bn": "standing"},
        )
        self.settings = settings
        self._model = None
        self._lock = threading.Lock()

    def is_valid(self) -> bool:
        return self.settings.model_file.is_file()

    def get_path(self, validate: bool = True) -> str | None:
        return str(self.settings.model_file) if self.is_valid() or not validate else None

    def model(self):
        """The generator with its statistics and grid (:class:`monai_fodgan.inference.TrainedModel`), loaded once."""
        from monai_fodgan.inference import load_bundle

        with self._lock:
            if self._model is None:
                s = self.settings
                configs = [s.bundle / "configs" / "inference.json", *s.configs]
                self._model = load_bundle(s.bundle, config_file=configs, model_file=s.model_file, device=s.device,
                                          with_encoder=False)
                if self._model.normalization is None or self._model.affine is None:
                    raise ValueError(f"{s.model_file}: holds no normalisation statistics or grid; cannot write FODs.")
                logger.info("loaded %s (%d iterations)", s.model_file, self._model.iteration)
            return self._model

    def codes(self, params: dict[str, Any], latent_size: int) -> tuple[torch.Tensor, str]:
        """The (N, latent) codes a request asks for and the name of its output folder.

        Raises:
            ValueError: a malformed ``seed``, ``num_samples`` or ``latent`` (the message names the parameter).
        """
        from monai_fodgan.inference import latent_codes

        if params.get("latent") is not None:
            try:
                z = torch.as_tensor(params["latent"], dtype=torch.float32)
            except (TypeError, ValueError) as e:
                raise ValueError(f"latent must be a list of {latent_size} numbers or a list of such lists ({e}).") from None
            z = z[None] if z.ndim == 1 else z
            if z.ndim != 2 or z.shape[1] != latent_size or not 1 <= z.shape[0] <= MAX_SAMPLES:
                raise ValueError(f"latent must hold 1 to {MAX_SAMPLES} codes of {latent_size} numbers, got shape "
                                 f"{tuple(z.shape)}.")
            if not torch.isfinite(z).all():
                raise ValueError("latent must be finite (found NaN or infinite values).")
            digest = hashlib.sha256(z.numpy().tobytes()).hexdigest()[:12]
            return z, f"latent-{digest}"
        try:
            seed, n = int(params.get("seed", 0)), int(params.get("num_samples", 1))
        except (TypeError, ValueError):
            raise ValueError(f"seed and num_samples must be integers, got {params.get('seed')!r}, "
                             f"{params.get('num_samples')!r}.") from None
        if not 1 <= n <= MAX_SAMPLES or seed < 0:
            raise ValueError(f"num_samples must be 1 to {MAX_SAMPLES} and seed >= 0, got {n}, {seed}.")
        return latent_codes(n, latent_size, seed), f"seed-{seed}"

    def __call__(self, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Generate and write the requested subjects; returns (a copy of the first image for the response, details).

        Raises:
            HTTPException: 422 for bad parameters, 500 for missing or unusable weights; the detail says which.
        """
        try:
            return self._synthesise(request)
        except ValueError as e:  # the client's parameters: answer with the reason, not a bare 500
            raise HTTPException(status_code=422, detail=str(e)) from e
        except FileNotFoundError as e:
            raise HTTPException(status_code=500, detail=f"{e} (conf model_file)") from e

    def _synthesise(self, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from monai_fodgan.inference import BN_MODES, generate
        from monai_fodgan.io import atomic_output, save_fod

        params = {**self.config(), **request}
        bn = str(params.get("bn", "standing"))
        if bn not in BN_MODES:
            raise ValueError(f"bn must be one of {BN_MODES}, got {bn!r}.")
        if not self.settings.model_file.is_file():
            raise FileNotFoundError(f"{self.settings.model_file}: no such weights file")
        model = self.model()
        z, folder = self.codes(params, model.generator.latent_size)
        with self._lock:  # standing statistics change the generator's buffers while sampling
            images = model.normalization.denormalize(generate(model.generator, z, bn=bn), channel_dim=1)
        out_dir = self.settings.work_dir / "synthetic" / folder
        prefix = "sub-latent" if folder.startswith("latent-") else "sub-synth"
        written = [save_fod(img, out_dir / f"{prefix}{k + 1:04d}.nii.gz", affine=model.affine)
                   for k, img in enumerate(images)]
        # the folder's listing: a seed's subject k is always the same image, so earlier requests' files stay valid
        listing = {"synthetic": [{"image": p.name, "subject": p.name.split(".")[0]}
                                 for p in sorted(out_dir.glob(f"{prefix}*.nii.gz"))]}
        with atomic_output(out_dir / "synthetic.json") as tmp:
            tmp.write_text(json.dumps(listing, indent=2) + "\n")
        # MONAI Label deletes the file it returns once sent: hand it a copy, keep the written one
        with tempfile.NamedTemporaryFile(prefix=written[0].name.split(".")[0] + "_", suffix=".nii.gz", delete=False) as f:
            response = Path(f.name)
        shutil.copyfile(written[0], response)
        logger.info("wrote %d subjects to %s", len(written), out_dir)
        return str(response), {
            "files": [str(p) for p in written], "output_dir": str(out_dir), "latent_size": model.generator.latent_size,
            "shape": list(images.shape[1:]), "bn": bn, "model_file": str(self.settings.model_file),
            "iteration": model.iteration,
        }
