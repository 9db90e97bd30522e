"""The output folder's own hidden work area, ``<out>/.work``, and the clean-up of what a killed run left.

Temporary files used to live in the system temp folder (MRtrix3 intermediates), in the user's working directory
(``dwi2response`` scratch folders) or in ``<out>/cache/work``, and a killed run left them there for ever
(gigabytes at paper scale). Now everything temporary lives under ``<out>/.work`` while a run holds the folder's
lock (:mod:`monai_fodgan.locking`): Python's :mod:`tempfile`, ``TMPDIR`` and MRtrix3's ``MRTRIX_TMPFILE_DIR``
point there, and :func:`monai_fodgan.mrtrix.run_mrtrix` gives MRtrix3 scripts their ``-scratch`` there. Since
only the lock holder writes to the folder, anything found there at the start belongs to a dead run and is removed,
with the hidden temporaries of :func:`monai_fodgan.io.atomic_output` anywhere in the folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["WORK_NAME", "remove_stale", "work_area"]

WORK_NAME = ".work"
_TEMPORARY = re.compile(r"^\..+-[a-z0-9_]{8}(\..*)?$")  # atomic_output: ".<stem>-XXXXXXXX<suffixes>"
_ENV = ("TMPDIR", "MRTRIX_TMPFILE_DIR")


def remove_stale(out: str | Path) -> list[Path]:
    """Delete ``<out>/.work`` and every hidden ``atomic_output`` temporary under ``out``; only call while holding
    the folder's lock. Returns what was removed."""
    out = Path(out)
    removed: list[Path] = []
    work = out / WORK_NAME
    if work.exists():
        shutil.rmtree(work, ignore_errors=True)
        removed.append(work)
    if out.is_dir():
        for path in out.rglob(".*"):
            if path.is_file() and not path.is_symlink() and _TEMPORARY.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


@contextlib.contextmanager
def work_area(out: str | Path) -> Iterator[Path]:
    """Clean ``<out>`` of a dead run's leftovers, then yield an empty ``<out>/.work`` that Python's temporary files,
    ``TMPDIR`` and ``MRTRIX_TMPFILE_DIR`` point to (child processes inherit it); removed, and the settings restored,
    at the end."""
    remove_stale(out)
    work = Path(out) / WORK_NAME
    work.mkdir(parents=True, exist_ok=True)
    saved_env = {k: os.environ.get(k) for k in _ENV}
    saved_tempdir = tempfile.tempdir
    try:
        for k in _ENV:
            os.environ[k] = str(work)
        tempfile.tempdir = str(work)
        yield work
    finally:
        tempfile.tempdir = saved_tempdir
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(work, ignore_errors=True)
