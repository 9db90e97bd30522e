"""Where a bundle is: the folder its configs are read from, and the copies this package ships.

The configs say ``"bundle_root": "$monai_fodgan.bundle_paths.bundle_root()"``: MONAI's convention is that
``bundle_root`` is the bundle folder whose configs are being read, so that a copied or installed bundle uses its own
``models/`` and ``docs/``. MONAI does not pass that folder to the expression, so :func:`bundle_root` finds it, in
order: the ``MONAI_FODGAN_BUNDLE_ROOT`` environment variable; the config file the running MONAI tool is reading
(a ``ConfigWorkflow`` of ``run`` / ``monai.bundle.load`` / MONAI Label, or the ``config_file`` of ``ckpt_export``,
``onnx_export``, ``verify_net_in_out``); the first ``--config_file`` on the command line; the bundle this package
ships (:func:`bundle_dir`). ``--bundle_root`` on the command line (or ``bundle_root=`` in ``load_bundle``) overrides
the expression altogether.

The wheel carries every bundle of :data:`BUNDLES` as ``monai_fodgan/bundles/<name>/`` (``setup.py`` copies them);
a source checkout (an editable install) uses the repository's folders.

Two bundles: ``fodgan`` (the FOD alpha-WGAN, ``bundle/``) and ``taskgen`` (DeepTaskGen, ``taskgen_bundle/``, whose
configs say ``bundle_root('taskgen_bundle')`` and whose variable is ``MONAI_FODGAN_TASKGEN_BUNDLE_ROOT``). Either
name or repository folder name selects a bundle.
"""

from __future__ import annotations

import ast
import inspect
import os
import sys
from pathlib import Path

__all__ = ["BUNDLES", "ENVIRONMENT", "bundle_dir", "bundle_root", "source_bundle"]

#: bundle name -> its folder in the repository; setup.py copies each into the wheel as monai_fodgan/bundles/<name>
BUNDLES = {
    "fodgan": "bundle",
    "taskgen": "taskgen_bundle",
}
#: bundle name -> the environment variable that overrides its place
ENVIRONMENT = {"fodgan": "MONAI_FODGAN_BUNDLE_ROOT", "taskgen": "MONAI_FODGAN_TASKGEN_BUNDLE_ROOT"}


def _name(name: str) -> str:
    """A bundle name of :data:`BUNDLES`, given the name or its repository folder (``bundle``, ``taskgen_bundle``)."""
    if name in BUNDLES:
        return name
    for key, folder in BUNDLES.items():
        if name == folder:
            return key
    raise KeyError(f"no bundle named {name!r}; known: {sorted(BUNDLES)} (or their folders {sorted(BUNDLES.values())}).")


def bundle_dir(name: str = "fodgan") -> Path:
    """The folder of bundle ``name`` shipped with this package: in the wheel, else in the source checkout.

    Raises:
        KeyError: an unknown bundle name.
        FileNotFoundError: neither place holds it (a broken installation).
    """
    name = _name(name)
    package = Path(__file__).resolve().parent
    for folder in (package / "bundles" / name, package.parent / BUNDLES[name]):
        if (folder / "configs").is_dir():
            return folder
    raise FileNotFoundError(f"bundle {name!r} is neither in {package / 'bundles'} (a wheel) nor at "
                            f"{package.parent / BUNDLES[name]} (a source checkout): reinstall monai_fodgan.")


def source_bundle(name: str = "fodgan") -> Path:
    """A bundle shipped with this package (:func:`bundle_dir`); the FOD alpha-WGAN bundle by default."""
    return bundle_dir(name)


def _root_of(config_file: object) -> str | None:
    """The bundle folder of a config file (or the first of a list): the folder above ``configs/``."""
    if isinstance(config_file, (list, tuple)):
        config_file = config_file[0] if config_file else None
    if isinstance(config_file, str) and config_file.strip().startswith("["):
        try:
            config_file = ast.literal_eval(config_file)[0]
        except (ValueError, SyntaxError, IndexError):
            return None
    if not isinstance(config_file, (str, os.PathLike)):
        return None
    folder = Path(config_file).resolve().parent
    return str(folder.parent if folder.name == "configs" else folder)


def _config_being_read() -> str | None:
    """The bundle folder of the config file that the MONAI tool up the call stack is reading, if any."""
    from monai.bundle import ConfigWorkflow

    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, ConfigWorkflow):
            path = owner.config_root_path
            return str(Path(path).resolve().parent if Path(path).name == "configs" else Path(path).resolve())
        if Path(frame.f_code.co_filename).as_posix().endswith("monai/bundle/scripts.py"):
            for name in ("config_file_", "config_file"):  # ckpt_export, onnx_export, verify_net_in_out, ...
                root = _root_of(frame.f_locals.get(name))
                if root is not None:
                    return root
        frame = frame.f_back
    return None


def _config_file_from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        value = None
        if arg == "--config_file" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--config_file="):
            value = arg.split("=", 1)[1]
        if value is not None:
            return _root_of(value)
    return None


def bundle_root(name: str = "fodgan") -> str:
    """Absolute path of the ``name`` bundle folder (see the module docstring for the order of precedence)."""
    name = _name(name)
    env = os.environ.get(ENVIRONMENT[name])
    if env:
        return str(Path(env).resolve())
    return _config_being_read() or _config_file_from_argv(sys.argv) or str(source_bundle(name))
