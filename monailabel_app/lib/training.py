"""Training as a MONAI Label train task: runs the bundle's own training (``python -m monai.bundle run training``)
on a prepared cohort, continuing from a checkpoint with all four networks, then validates without labels.

Why not MONAI Label's ``BundleTrainTask``: it cannot merge ``demo.json`` (so the shipped bundle looks for
``/workspace/data/hcp_fod``), its default validation split asks the bundle for a ``validate`` section it then
fails on (``KeyError: 'query key: validate'``), and with ``val_split=-1`` only the generator is restored. This
task calls MONAI's bundle CLI with ``train.json``, the app's override configs and ``configs/validate.json`` (the
validation section: mean |G(E(x)) - x| over the datalist's validation subjects; no labels), and lets the bundle's
checkpoint handler restore generator, critic, encoder, code critic, optimisers and RNG states.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from monailabel.interfaces.datastore import Datastore
from monailabel.interfaces.tasks.train import TrainTask

from lib.settings import AppSettings

logger = logging.getLogger(__name__)

__all__ = ["VALIDATE_CONFIG", "FODTraining"]

#: the validation section merged into the bundle's training
VALIDATE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "validate.json"
_CHECKPOINT = re.compile(r"checkpoint_(\d+)\.pt$")


def _datalist(dataset: Path) -> dict[str, list]:
    path = dataset / "datalist.json"
    if not path.is_file():
        raise ValueError(f"{path}: no datalist; training needs a folder prepared by python -m monai_fodgan.prepare "
                         "(set it with --conf dataset_dir, or --studies DATASET/fod).")
    try:
        datalist = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON ({e}).") from None
    for key in ("training", "validation"):
        if not isinstance(datalist.get(key), list) or not datalist[key]:
            raise ValueError(f"{path}: needs a non-empty {key!r} list (validation reconstructs those subjects).")
    return datalist


class FODTraining(TrainTask):
    """Continue (or start) the bundle's alpha-WGAN training for a number of iterations.

    Request parameters (``POST /train/<model>`` body): ``iterations`` (default conf ``iterations``),
    ``overrides`` (config id -> value, passed to the bundle CLI as ``--id value``).

    Args:
        settings: the app's paths (bundle, configs, dataset, work_dir, init_checkpoint).
    """

    def __init__(self, settings: AppSettings) -> None:
        super().__init__("The bundle's alpha-WGAN training (all four networks, continued from the newest checkpoint), "
                         "validated by reconstruction of the validation subjects")
        self.settings = settings

    @property
    def output_dir(self) -> Path:
        return self.settings.work_dir / "training"

    def config(self) -> dict[str, Any]:
        return {"iterations": self.settings.iterations, "dataset_dir": str(self.settings.dataset_dir),
                "init_checkpoint": str(self.settings.init_checkpoint or "")}

    def checkpoints(self) -> list[Path]:
        """The run's checkpoints, oldest first."""
        folder = self.output_dir / "checkpoints"
        found = [(int(m.group(1)), p) for p in folder.glob("checkpoint_*.pt") if (m := _CHECKPOINT.search(p.name))]
        return [p for _, p in sorted(found)]

    def stats(self) -> dict[str, Any]:
        done = self.checkpoints()
        out: dict[str, Any] = {"iteration": int(_CHECKPOINT.search(done[-1].name).group(1)) if done else 0}
        metrics = self.output_dir / "validation" / "metrics.csv"
        if metrics.is_file():
            for line in metrics.read_text().splitlines():
                key, _, value = line.partition(",")
                out[key] = float(value)
        return out

    def start(self) -> tuple[Path | None, int]:
        """Where training continues from (the newest checkpoint, else ``init_checkpoint``) and its iteration."""
        import torch

        done = self.checkpoints()
        path = done[-1] if done else self.settings.init_checkpoint
        if path is None:
            return None, 0
        if not path.is_file():
            raise ValueError(f"{path}: no such checkpoint (conf init_checkpoint).")
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return path, int(state.get("trainer", {}).get("iteration", 0))

    def command(self, iterations: int, overrides: dict[str, Any] | None = None) -> list[str]:
        """The ``python -m monai.bundle run training ...`` command of a request."""
        s = self.settings
        path, done = self.start()
        configs = [s.bundle / "configs" / "train.json", *s.configs, VALIDATE_CONFIG]
        cmd = [sys.executable, "-m", "monai.bundle", "run", "training",
               "--config_file", "[" + ",".join(f"'{c}'" for c in configs) + "]",
               "--bundle_root", str(s.bundle), "--work_dir", str(s.work_dir), "--dataset_dir", str(s.dataset_dir),
               "--max_iterations", str(done + iterations)]
        if s.init_checkpoint is not None:
            cmd += ["--init_checkpoint", str(s.init_checkpoint)]
        for key, value in (overrides or {}).items():
            cmd += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
        logger.info("training continues from %s (iteration %d) for %d iterations", path, done, iterations)
        return cmd

    def __call__(self, request: dict[str, Any], datastore: Datastore) -> dict[str, Any]:
        """Run the bundle's training; returns the final iteration, files and validation metric.

        Raises:
            ValueError, TypeError: bad ``iterations`` or ``overrides``, or a dataset without training and validation subjects.
            RuntimeError: the bundle's run failed (the message ends with its last output lines).
        """
        try:
            iterations = int(request.get("iterations", self.settings.iterations))
        except (TypeError, ValueError):
            raise ValueError(f"iterations must be an integer, got {request.get('iterations')!r}.") from None
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}.")
        overrides = request.get("overrides") or {}
        if not isinstance(overrides, dict):
            raise TypeError(f"overrides must be an object of config id -> value, got {overrides!r}.")
        _datalist(self.settings.dataset_dir)
        cmd = self.command(iterations, overrides)
        logger.info("running: %s", " ".join(cmd))
        tail: list[str] = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout:
                logger.info(line.rstrip())
                tail = (tail + [line.rstrip()])[-30:]
        if proc.returncode != 0:
            raise RuntimeError(f"the bundle's training failed (exit {proc.returncode}):\n" + "\n".join(tail))
        done = self.checkpoints()
        return {**self.stats(), "checkpoint": str(done[-1]) if done else None,
                "model": str(self.output_dir / "model.pt"), "output_dir": str(self.output_dir)}
