"""The one executor of per-subject work (monai_fodgan.executors) on a real Dask cluster of worker processes: a
worker killed mid-subject is replaced and the subject re-run, a subject whose workers keep dying is reported by name
while the others finish, and an address where no scheduler answers is refused before any work."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from monai_fodgan.errors import subject_failure
from monai_fodgan.executors import LostSubjectError, check_parallelism, run_subjects


def _die_once(task: tuple[str, str]) -> dict:
    """A subject task that kills its own worker process (SIGKILL, no clean-up) the first time it runs for the
    subject named in the marker folder's ``victim`` file; the marker records that it did."""
    folder, name = Path(task[0]), task[1]
    marker = folder / f"killed-{name}"
    if (folder / "victim").read_text() == name and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return {"subject": name, "status": "done", "pid": os.getpid()}


def _always_die(task: tuple[str, str]) -> dict:
    """A subject task whose worker dies every time it runs ``victim``."""
    folder, name = Path(task[0]), task[1]
    if (folder / "victim").read_text() == name:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"subject": name, "status": "done", "pid": os.getpid()}


def _lost(name: str, error: LostSubjectError) -> dict:
    return subject_failure(name, error, 0.0)


def _run(fn, folder: Path, names: list[str], scheduler: str) -> dict[str, dict]:
    results = dict(run_subjects(fn, [(str(folder), n) for n in names], names, scheduler=scheduler, lost=_lost,
                                label="test"))
    assert sorted(results) == list(range(len(names)))  # every subject answered exactly once
    return {names[k]: r for k, r in results.items()}


def test_a_worker_killed_mid_subject_is_replaced_and_every_subject_finishes(dask_cluster: str, tmp_path: Path) -> None:
    names = [f"sub-{k}" for k in range(4)]
    (tmp_path / "victim").write_text("sub-2")
    results = _run(_die_once, tmp_path, names, dask_cluster)
    assert all(r["status"] == "done" for r in results.values()), results
    killed_pid = int((tmp_path / "killed-sub-2").read_text())  # the first attempt really died
    assert results["sub-2"]["pid"] != killed_pid  # and a live worker ran it again
    assert all(r["pid"] != os.getpid() for r in results.values())  # in worker processes, not here


def test_a_subject_whose_worker_always_dies_is_reported_and_the_others_finish(dask_cluster: str, tmp_path: Path) -> None:
    from distributed import Client

    def settings(dask_scheduler, new: tuple | None = None) -> tuple:  # runs in the scheduler
        before = (dask_scheduler.allowed_failures, dask_scheduler.WORKER_SATURATION)
        if new is not None:
            dask_scheduler.allowed_failures, dask_scheduler.WORKER_SATURATION = new
        return before

    names = [f"sub-{k}" for k in range(3)]
    (tmp_path / "victim").write_text("sub-1")
    with Client(dask_cluster, set_as_default=False) as client:
        # give up after two deaths (Dask's default: 4); one task per worker at a time, so that no other subject
        # waits on the dying worker (Dask counts the deaths against every task a dying worker holds)
        default = client.run_on_scheduler(settings, new=(1, 1.0))
        try:
            results = _run(_always_die, tmp_path, names, dask_cluster)
        finally:
            client.run_on_scheduler(settings, new=default)
    assert results["sub-0"]["status"] == results["sub-2"]["status"] == "done"
    lost = results["sub-1"]
    assert lost["status"] == "failed" and lost["subject"] == "sub-1"
    assert lost["error"].startswith("LostSubjectError: sub-1: no result from the Dask cluster")
    assert "KilledWorker" in lost["error"]


def test_an_address_without_a_scheduler_is_refused_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a free port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    import dask

    dask.config.refresh()
    try:
        ran = []
        with pytest.raises(ValueError, match=rf"tcp://127.0.0.1:{port}: cannot connect to a Dask scheduler"):
            list(run_subjects(ran.append, [1], ["sub-1"], scheduler=f"tcp://127.0.0.1:{port}", lost=_lost))
        assert ran == []
    finally:
        monkeypatch.delenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT")
        dask.config.refresh()


def test_jobs_and_a_scheduler_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either jobs"):
        check_parallelism(2, "tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        check_parallelism(0, None)
