"""The one place that runs MRtrix3 commands.

Every MRtrix3 call in this package goes through :func:`run_mrtrix`: it checks that the command exists,
runs it without a shell, and on failure raises :class:`MRtrixError` showing the full command and
MRtrix3's own message, so the rest of the code never builds or debugs command lines by hand. Commands die with the
process that started them (:func:`monai_fodgan.processes.child_preexec`), and MRtrix3's Python scripts (e.g.
``dwi2response``) get ``-scratch`` in Python's temporary folder, which ``prepare`` and ``evaluate`` point into their
output folder's work area, instead of a scratch folder in the current directory.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from monai_fodgan.processes import child_preexec

__all__ = ["MRtrixError", "mrtrix_available", "mrtrix_version", "run_mrtrix"]


class MRtrixError(RuntimeError):
    """An MRtrix3 command is missing or failed."""


def mrtrix_available(command: str = "mrconvert") -> bool:
    """Whether the MRtrix3 command ``command`` is on PATH."""
    return shutil.which(command) is not None


@lru_cache(maxsize=None)
def _is_script(exe: str) -> bool:
    """Whether an MRtrix3 command is one of its Python scripts (they take ``-scratch``; binaries do not)."""
    try:
        with open(exe, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


@lru_cache(maxsize=None)
def mrtrix_version() -> str | None:
    """MRtrix3's version string (e.g. "3.0.3"), or None when MRtrix3 is not installed."""
    if not mrtrix_available():
        return None
    first = subprocess.run(["mrconvert", "-version"], capture_output=True, text=True).stdout.splitlines()
    return first[0].strip("= ").split()[-1] if first else "unknown"


def run_mrtrix(command: str, *args: str | Path | float, nthreads: int | None = None, quiet: bool = True,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run one MRtrix3 command, e.g. ``run_mrtrix("mrconvert", "in.mif", "out.nii", "-force")``.

    Args:
        command: the MRtrix3 executable name.
        args: its arguments (paths and numbers are converted to strings).
        nthreads: value of MRtrix3's ``-nthreads`` option (None: MRtrix3's default).
        quiet: add ``-quiet``.
        env: extra environment variables (e.g. ``MRTRIX_RNG_SEED`` for reproducible tractography).

    Returns:
        the completed process (stdout and stderr captured as text).

    Raises:
        MRtrixError: when the command is not installed, or exits non-zero (the message holds the command
            line and MRtrix3's error output).
    """
    exe = shutil.which(command)
    if exe is None:
        raise MRtrixError(f"MRtrix3 command '{command}' not found on PATH; install MRtrix3 (e.g. apt-get install mrtrix3).")
    cmd = [exe, *map(str, args)]
    if _is_script(exe) and "-scratch" not in cmd:
        cmd += ["-scratch", tempfile.gettempdir()]
    if quiet:
        cmd.append("-quiet")
    if nthreads is not None:
        cmd += ["-nthreads", str(nthreads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=None if env is None else {**os.environ, **env},
                          preexec_fn=child_preexec())
    if proc.returncode != 0:
        raise MRtrixError(
            f"MRtrix3 command failed (exit {proc.returncode}):\n  {shlex.join(cmd)}\n{proc.stderr.strip()}"
        )
    return proc
