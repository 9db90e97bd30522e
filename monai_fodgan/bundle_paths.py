"""Where the bundle is, so its configs work from any working directory.

The configs say ``"bundle_root": "$monai_fodgan.bundle_paths.bundle_root()"``. That resolves, in order:
the ``MONAI_FODGAN_BUNDLE_ROOT`` environment variable; the folder above ``configs/`` of the first
``--config_file`` given to ``python -m monai.bundle``; the ``bundle/`` folder of this source tree. Programs
that parse the configs themselves (MONAI Label, :func:`monai_fodgan.inference.load_bundle`) override
``bundle_root`` directly.

The second bundle (DeepTaskGen, ``taskgen_bundle/``) says ``bundle_root('taskgen_bundle')``: the same order with
its own variable, ``MONAI_FODGAN_TASKGEN_BUNDLE_ROOT``, and ``taskgen_bundle/`` as the fallback.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

__all__ = ["BUNDLES", "bundle_root", "source_bundle"]

#: bundle folder name -> the environment variable that overrides its place
BUNDLES = {"bundle": "MONAI_FODGAN_BUNDLE_ROOT", "taskgen_bundle": "MONAI_FODGAN_TASKGEN_BUNDLE_ROOT"}


def source_bundle(name: str = "bundle") -> Path:
    """The ``name`` bundle folder (``bundle`` or ``taskgen_bundle``) next to the installed (editable) package."""
    if name not in BUNDLES:
        raise ValueError(f"unknown bundle {name!r}; choose from {sorted(BUNDLES)}.")
    return Path(__file__).resolve().parents[1] / name


def _config_file_from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        value = None
        if arg == "--config_file" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--config_file="):
            value = arg.split("=", 1)[1]
        if value is None:
            continue
        if value.strip().startswith("["):
            try:
                value = ast.literal_eval(value)[0]
            except (ValueError, SyntaxError, IndexError):
                return None
        return str(value)
    return None


def bundle_root(name: str = "bundle") -> str:
    """Absolute path of the ``name`` bundle folder (see the module docstring for the order of precedence)."""
    env = os.environ.get(BUNDLES[name]) if name in BUNDLES else None
    if env:
        return str(Path(env).resolve())
    config = _config_file_from_argv(sys.argv)
    if config:
        folder = Path(config).resolve().parent
        return str(folder.parent if folder.name == "configs" else folder)
    return str(source_bundle(name))
