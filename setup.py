"""Build hook: the wheel carries each bundle of ``monai_fodgan.bundle_paths.BUNDLES`` as ``monai_fodgan/bundles/<name>``.

The bundles live beside the package in the repository (``bundle/``, MONAI's layout); ``build_py`` copies their
configs, docs, licence and shipped weights into the package, so ``pip install .`` / ``pip wheel .`` give a package
that finds its bundle (``monai_fodgan.bundle_paths.bundle_dir``) and can copy it out (``python -m
monai_fodgan.bundle_copy DEST``). Weights a user put into a source bundle's ``models/`` (``model.pt``, exports) are
left out: only the shipped files named ``demo_*`` are copied from ``models/``.
"""

from __future__ import annotations

import fnmatch
import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
BUNDLES = runpy.run_path(str(HERE / "monai_fodgan" / "bundle_paths.py"), run_name="bundle_paths")["BUNDLES"]
#: what of models/ is shipped (the rest of a bundle folder is copied whole, caches aside)
SHIPPED_MODELS = ("demo_*",)


def _ignore(folder: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".tmp"))}
    if Path(folder).name == "models":
        skipped |= {n for n in names if not any(fnmatch.fnmatch(n, p) for p in SHIPPED_MODELS)}
    return skipped


def _copy_bundles(root: Path, inside: str) -> None:
    """Copy every bundle folder into ``root`` (at ``inside/<name>`` or, for an sdist, at its repository path)."""
    for name, folder in BUNDLES.items():
        source = HERE / folder
        if not (source / "configs").is_dir():  # a wheel without its bundle would fail only when used
            raise SystemExit(f"setup.py: bundle {name!r} not found at {source} (no configs/).")
        target = root / (inside.format(name=name) if inside else folder)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=_ignore)


class BuildWithBundles(build_py):
    """``build_py`` that also copies the bundles into ``monai_fodgan/bundles/`` of the build."""

    def run(self) -> None:
        super().run()
        _copy_bundles(Path(self.build_lib), "monai_fodgan/bundles/{name}")


class SdistWithBundles(sdist):
    """``sdist`` that keeps the bundle folders, so a wheel built from it carries them too."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        _copy_bundles(Path(base_dir), "")


setup(cmdclass={"build_py": BuildWithBundles, "sdist": SdistWithBundles})
