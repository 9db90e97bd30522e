"""Child processes that die with their parent: pool workers and external commands.

A SIGKILL of ``prepare --jobs 2`` left its pool workers running (they finished the queue, then hung), and a
killed ``--jobs 1`` run left ``dwi2fod`` computing. On Linux, ``prctl(PR_SET_PDEATHSIG)`` asks the kernel to
signal a process when its parent dies; :func:`die_with_parent` sets it in pool workers (as the pool's
``initializer``) and :func:`child_preexec` in external commands started with :mod:`subprocess`. The signal is
SIGTERM, which MRtrix3's Python scripts catch to stop their own commands and remove their scratch folders.
Elsewhere these are no-ops.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial

__all__ = ["die_with_parent", "child_preexec", "process_pool"]

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGTERM) -> None:
    """Have this process receive ``sig`` when its parent dies (Linux). Exits at once when ``parent_pid`` is given
    and the parent is already gone (it died between the fork and this call)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


def child_preexec() -> Callable[[], None] | None:
    """A ``preexec_fn`` for :mod:`subprocess` that ties the child to this process (None where not supported)."""
    return partial(die_with_parent, os.getpid()) if _LIBC is not None else None


def process_pool(jobs: int) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process; ``fork`` where the platform has it (it does not re-run
    the caller's script, so notebooks and scripts without a ``__main__`` guard work), ``spawn`` elsewhere."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method), initializer=die_with_parent,
                               initargs=(os.getpid(),))
