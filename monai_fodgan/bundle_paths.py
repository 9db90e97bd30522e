"""Where the bundle is, so its configs work from any working directory.

The configs say ``"bundle_root": "$monai_fodgan.bundle_paths.bundle_root()"``. That resolves, in order:
the ``MONAI_FODGAN_BUNDLE_ROOT`` environment variable; the folder above ``configs/`` of the first
``--config_file`` given to ``python -m monai.bundle``; the ``bundle/`` folder of this source tree. Programs
that parse the configs themselves (MONAI Label, :func:`monai_fodgan.inference.load_bundle`) override
``bundle_root`` directly.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

__all__ = ["bundle_root", "source_bundle"]


def source_bundle() -> Path:
    """The ``bundle/`` folder next to the installed (editable) package."""
    return Path(__file__).resolve().parents[1] / "bundle"


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


def bundle_root() -> str:
    """Absolute path of the bundle folder (see the module docstring for the order of precedence)."""
    env = os.environ.get("MONAI_FODGAN_BUNDLE_ROOT")
    if env:
        return str(Path(env).resolve())
    config = _config_file_from_argv(sys.argv)
    if config:
        folder = Path(config).resolve().parent
        return str(folder.parent if folder.name == "configs" else folder)
    return str(source_bundle())
