"""Run one function over the subjects of a cohort: in this process, in a local process pool, or on a Dask cluster.

``prepare`` and ``evaluate`` do their per-subject work through :func:`run_subjects`, so the three ways share one
code path and give the same results: ``jobs == 1`` runs in this process, ``jobs > 1`` in a pool of worker processes
that die with this one (:func:`~monai_fodgan.processes.process_pool`), and ``scheduler`` (a ``dask.distributed``
address such as ``tcp://10.0.0.5:8786``) on the workers of a Dask cluster: a ``LocalCluster``, or one that
``dask-jobqueue`` starts on SLURM or PBS nodes. Dask workers must see the same files at the same paths (a shared
file system) and have ``monai_fodgan`` installed.

The subject function reports its own failures as a record (it never raises), so one subject's error never stops the
others. What the function cannot report is a worker that dies under it (killed, out of memory): Dask re-runs such a
task on another worker (until ``distributed.scheduler.allowed-failures`` + 1 workers died holding it, default 4;
Dask counts a death against every task the dying worker held, running or waiting) and retries a task that raised
``retries`` times; a pool whose worker died stops. A subject that still comes back with no result is
handed to ``lost``, which makes its failure record: it is reported beside the others, never silently dropped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
from typing import TypeVar

__all__ = ["LostSubjectError", "run_subjects", "threads_per_subject", "check_parallelism"]

T = TypeVar("T")
R = TypeVar("R")

#: times Dask re-runs a subject task that raised (a dying worker is re-run by the scheduler, not counted here)
RETRIES = 2


class LostSubjectError(RuntimeError):
    """A subject's task came back without a result: its worker process died, or the pool or cluster failed."""


def check_parallelism(jobs: int, scheduler: str | None) -> None:
    """Refuse ``jobs`` > 1 together with a scheduler (the cluster's workers decide the parallelism), and jobs < 1."""
    if int(jobs) < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}.")
    if scheduler is not None and int(jobs) != 1:
        raise ValueError(f"give either jobs ({jobs}) or a Dask scheduler ({scheduler}), not both: with a scheduler "
                         "the cluster's workers set how many subjects run at once.")


def threads_per_subject(jobs: int | None = None) -> int:
    """CPU threads one subject may use: this machine's CPUs shared among the subjects it runs at once (``jobs``,
    or, inside a Dask worker, that worker's thread count)."""
    if jobs is None:
        try:
            from distributed import get_worker

            jobs = get_worker().state.nthreads
        except (ImportError, ValueError):  # not in a Dask worker
            jobs = 1
    return max(1, (os.cpu_count() or 1) // max(1, int(jobs)))


def run_subjects(fn: Callable[[T], R], tasks: Sequence[T], names: Sequence[str], *, jobs: int = 1,
                 scheduler: str | None = None, lost: Callable[[str, LostSubjectError], R],
                 label: str = "subject", retries: int = RETRIES) -> Iterator[tuple[int, R]]:
    """``fn(task)`` for every task, yielded as ``(index, result)`` in the order they finish.

    Args:
        fn: the per-subject function; picklable (a module-level function), returns a record and does not raise.
        tasks: one picklable argument per subject.
        names: the subjects' names (messages, Dask task keys).
        jobs: subjects at once on this machine (1: in this process).
        scheduler: address of a Dask scheduler (``tcp://host:port``); its workers run the tasks.
        lost: makes the record of a subject that came back without a result (called in the ``except`` block,
            with the subject's name and a :class:`LostSubjectError` naming it).
        label: what a task is, for Dask task keys (``prepare``, ``evaluate``).
        retries: Dask re-runs of a task that raised.

    Raises:
        ValueError: the scheduler cannot be reached (before any task runs), or ``jobs`` with a scheduler.
    """
    check_parallelism(jobs, scheduler)
    if len(tasks) != len(names):
        raise ValueError(f"{len(tasks)} tasks but {len(names)} names.")
    if scheduler is not None:
        yield from _run_dask(fn, tasks, names, scheduler, lost, label, retries)
    elif jobs == 1 or len(tasks) <= 1:
        for k, task in enumerate(tasks):
            yield k, fn(task)
    else:
        yield from _run_pool(fn, tasks, names, jobs, lost)


def _run_pool(fn: Callable[[T], R], tasks: Sequence[T], names: Sequence[str], jobs: int,
              lost: Callable[[str, LostSubjectError], R]) -> Iterator[tuple[int, R]]:
    from monai_fodgan.processes import process_pool

    with process_pool(min(jobs, len(tasks))) as pool:  # workers die with this process
        futures = {pool.submit(fn, task): k for k, task in enumerate(tasks)}
        for future in as_completed(futures):
            k = futures[future]
            try:
                result = future.result()
            except Exception as err:  # a worker died (BrokenProcessPool) or fn broke its contract
                try:
                    raise LostSubjectError(f"{names[k]}: no result from its worker process "
                                           f"({type(err).__name__}: {err})") from err
                except LostSubjectError as lost_err:
                    result = lost(names[k], lost_err)
            yield k, result


def _connect(scheduler: str):
    """A ``dask.distributed`` client of ``scheduler``; a clear error when Dask is missing or nothing answers."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(f"--scheduler {scheduler}: Dask is not installed; pip install 'dask[distributed]' "
                         "(or monai_fodgan[dask]).") from None
    try:
        return Client(scheduler, set_as_default=False)  # waits distributed.comm.timeouts.connect (30 s)
    except (OSError, TimeoutError, ValueError) as err:
        raise ValueError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there "
                         f"({type(err).__name__}: {err}).") from None


def _run_dask(fn: Callable[[T], R], tasks: Sequence[T], names: Sequence[str], scheduler: str,
              lost: Callable[[str, LostSubjectError], R], label: str, retries: int) -> Iterator[tuple[int, R]]:
    from distributed import as_completed as dask_completed

    run_id = uuid.uuid4().hex[:8]
    with _connect(scheduler) as client:
        # pure=False: a re-run computes again (the per-subject caches decide what is reused, not Dask)
        futures = [client.submit(fn, task, key=f"{label}-{name}-{run_id}", pure=False, retries=retries)
                   for name, task in zip(names, tasks)]
        index = {f.key: k for k, f in enumerate(futures)}
        for future in dask_completed(futures, loop=client.loop):
            k = index[future.key]
            try:
                result = future.result()
            except Exception as err:  # KilledWorker (its workers died too often), or fn raised after every retry
                try:
                    raise LostSubjectError(f"{names[k]}: no result from the Dask cluster at {scheduler} "
                                           f"({type(err).__name__}: {err})") from err
                except LostSubjectError as lost_err:
                    result = lost(names[k], lost_err)
            future.release()
            yield k, result
