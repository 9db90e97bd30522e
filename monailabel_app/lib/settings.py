"""Where the app finds the bundle, its weights and its data: every path in one place, each overridable with
``monailabel start_server ... --conf KEY VALUE``.

Why one place: the shipped demo weights and their configs may be renamed or moved; the app reads them only here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEMO_CHECKPOINT", "DEMO_CONFIGS", "DEMO_WEIGHTS", "AppSettings"]

#: the shipped demo model (generator, encoder, statistics, grid), relative to the bundle folder
DEMO_WEIGHTS = "models/demo_model.pt"
#: the shipped demo model's full training state (all four networks, optimisers, RNG), relative to the bundle
DEMO_CHECKPOINT = "models/demo_checkpoint.pt"
#: configs merged after ``inference.json`` / ``train.json`` for the demo model (relative to the bundle)
DEMO_CONFIGS = "configs/demo.json"


def _existing_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise ValueError(f"{path}: {what} is not a folder (set it with --conf).")
    return path


@dataclass(frozen=True)
class AppSettings:
    """The app's paths and defaults, from ``--conf`` values (strings) over the defaults.

    Attributes:
        bundle: the bundle folder (``configs/``, ``models/``); conf ``bundle``, default ``<app>/../bundle``.
        model_file: weights the synthesis task samples; conf ``model_file``, default the bundle's demo weights.
        configs: override configs merged after the bundle's ``inference.json`` / ``train.json`` (conf ``configs``,
            comma-separated, relative to the bundle or absolute; ``""`` for none: the paper-scale model).
        init_checkpoint: what training continues from when its own ``checkpoints/`` is empty; conf
            ``init_checkpoint`` (``""``: train from scratch), default the shipped demo checkpoint.
        work_dir: the runs' folder (``synthetic/``, ``training/``, as the bundle's ``work_dir``); conf ``work_dir``,
            default ``<app>/work``.
        dataset_dir: a prepared cohort (``datalist.json``, ``fod/``) that training reads; conf ``dataset_dir``,
            default the studies folder when it holds ``datalist.json``, else its parent (``--studies DATASET/fod``).
        device: ``cuda:0`` when available, else ``cpu``; conf ``device``.
        iterations: training iterations per request unless the request says; conf ``iterations``, default 100.
    """

    bundle: Path
    model_file: Path
    configs: tuple[Path, ...]
    init_checkpoint: Path | None
    work_dir: Path
    dataset_dir: Path
    device: str
    iterations: int

    @classmethod
    def from_conf(cls, app_dir: str | Path, studies: str | Path, conf: dict[str, str]) -> AppSettings:
        """Read ``conf`` (``--conf`` pairs); paths are resolved against the server's working directory.

        Raises:
            ValueError: a folder that does not exist or a non-integer ``iterations`` (names the value).
        """
        app_dir = Path(app_dir).resolve()
        bundle = _existing_dir(Path(conf.get("bundle", app_dir.parent / "bundle")).resolve(), "the bundle (conf bundle)")

        def in_bundle(value: str) -> Path:
            return (bundle / value).resolve() if not os.path.isabs(value) else Path(value)

        configs = tuple(in_bundle(c.strip()) for c in conf.get("configs", DEMO_CONFIGS).split(",") if c.strip())
        for c in configs:
            if not c.is_file():
                raise ValueError(f"{c}: no such config (conf configs).")
        init = conf.get("init_checkpoint", DEMO_CHECKPOINT)
        studies = Path(studies).resolve()
        dataset = conf.get("dataset_dir")
        if dataset is None:
            dataset = studies if (studies / "datalist.json").is_file() or not (studies.parent / "datalist.json").is_file() \
                else studies.parent
        try:
            iterations = int(conf.get("iterations", 100))
        except ValueError:
            raise ValueError(f"conf iterations must be an integer, got {conf['iterations']!r}.") from None
        import torch

        return cls(
            bundle=bundle,
            model_file=in_bundle(conf.get("model_file", DEMO_WEIGHTS)),
            configs=configs,
            init_checkpoint=in_bundle(init) if init else None,
            work_dir=Path(conf.get("work_dir", app_dir / "work")).resolve(),
            dataset_dir=Path(dataset).resolve(),
            device=conf.get("device", "cuda:0" if torch.cuda.is_available() else "cpu"),
            iterations=iterations,
        )
