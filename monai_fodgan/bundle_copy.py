"""Write a working copy of a bundle this package ships: ``python -m monai_fodgan.bundle_copy DEST``.

Why: an installed wheel keeps its bundle inside ``site-packages`` (read, not written); a copy in a folder of the
user's choice is what MONAI's tools expect to work on (``monai.bundle.load(name=..., bundle_dir=...)``, a trained
``models/model.pt`` put next to the configs, exports written to ``models/``). The copy's ``bundle_root`` is the copy
itself: the configs find the folder they are read from (:mod:`monai_fodgan.bundle_paths`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from monai_fodgan.bundle_paths import BUNDLES, bundle_dir
from monai_fodgan.cli import HelpFormatter

__all__ = ["build_parser", "copy_bundle", "main"]


def copy_bundle(dest: str | Path, name: str = "fodgan") -> Path:
    """Copy bundle ``name`` to the new folder ``dest`` (atomically: a temporary sibling renamed at the end).

    Args:
        dest: the folder to create; it must not exist yet (or be an empty folder).
        name: a key of :data:`~monai_fodgan.bundle_paths.BUNDLES`.

    Returns:
        ``dest`` as an absolute path.

    Raises:
        FileExistsError: ``dest`` exists and is not an empty folder.
    """
    dest = Path(dest).resolve()
    source = bundle_dir(name)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest}: exists and is not an empty folder; give a new folder for the bundle copy.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        shutil.copytree(source, work / "bundle", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if dest.exists():
            dest.rmdir()
        (work / "bundle").rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def build_parser() -> argparse.ArgumentParser:
    """The command line (imports nothing heavy)."""
    parser = argparse.ArgumentParser(prog="python -m monai_fodgan.bundle_copy", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("dest", type=Path, help="new folder for the copy (must not exist, or be empty)")
    parser.add_argument("--bundle", choices=sorted(BUNDLES), default="fodgan", help="which bundle to copy")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        dest = copy_bundle(args.dest, args.bundle)
    except (FileExistsError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"bundle {args.bundle!r} copied to {dest}; e.g.\n"
          f"  python -m monai.bundle run inference --config_file \"['{dest}/configs/inference.json',"
          f"'{dest}/configs/demo.json']\" --checkpoint_file {dest}/models/demo_model.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
