"""Runs killed with SIGKILL at several points (issue 15, item 5): no process outlives its run, temporary files
were only ever in the output folder's ``.work/`` (not the system temp folder, not the working directory), and a
re-run finishes and leaves nothing stale: the folder is listed and holds only real outputs.

Real runs of the commands with real MRtrix3, killed with real signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "MPLBACKEND": "Agg"}


def _state(pid: int) -> str | None:
    """The process's state letter, or None when it is gone (a zombie counts as gone: it no longer runs)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if state in ("Z", "X") else state


def _descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid``: {pid: command name}."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1: stat.rindex(")")], stat.rsplit(")", 1)[1].split()
            children.setdefault(int(rest[1]), []).append(int(entry.name))
            names[int(entry.name)] = name
    found, todo = {}, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        found[p] = names.get(p, "?")
        todo.extend(children.get(p, []))
    return found


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = 300) -> dict[int, str]:
    """SIGKILL ``proc`` (only it) once ``ready()``; returns its descendants at that moment."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the point where it should be killed"
        assert time.monotonic() < deadline, "the run never reached the point where it should be killed"
        time.sleep(0.01)
    family = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return family


def _assert_all_die(family: dict[int, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while any(_state(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [f"{p} ({n})" for p, n in family.items() if _state(p)], "processes outlived their killed parent"


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _stale(folder: Path) -> list[str]:
    """Hidden entries (work area, lock, atomic temporaries) anywhere in the folder."""
    return [name for name in _listing(folder) if any(part.startswith(".") for part in Path(name).parts)]


@pytest.fixture(scope="module")
def dwi_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monai_fodgan.data.phantom import make_population

    return make_population(tmp_path_factory.mktemp("killed") / "ph", n=2, seed=3)


def _mrtrix_running(out: Path, proc: subprocess.Popen) -> Callable[[], bool]:
    def ready() -> bool:
        work = out / ".work"
        busy = work.is_dir() and any(work.iterdir())
        return busy and any(n.startswith(("dwi2", "mrconvert", "python")) for n in _descendants(proc.pid).values())
    return ready


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_killed_prepare_leaves_no_process_and_nothing_stale(mrtrix: None, dwi_population: Path, tmp_path: Path,
                                                             jobs: str) -> None:
    out, cwd = tmp_path / "set", tmp_path / "cwd"
    cwd.mkdir()
    args = [sys.executable, "-m", "monai_fodgan.prepare", "--bids", str(dwi_population), "--out", str(out),
            "--backend", "mrtrix", "--shape", "8", "8", "4", "--jobs", jobs]
    proc = subprocess.Popen(args, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    family = _kill_when(proc, _mrtrix_running(out, proc))
    assert family, "no worker or MRtrix3 process was running"
    _assert_all_die(family)
    assert (out / ".work").is_dir()  # the intermediates were in the output's work area ...
    assert not list(cwd.iterdir())  # ... not in the working directory (dwi2response's default scratch)
    rerun = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert not _stale(out), _stale(out)
    assert set(_listing(out)) == {"datalist.json", "sh_stats.json", "summary.json", "fod", "native",
                                  "fod/sub-0001.nii.gz", "fod/sub-0002.nii.gz", "native/sub-0001.json",
                                  "native/sub-0002.json", "native/sub-0001_fod.nii.gz", "native/sub-0002_fod.nii.gz"}
    assert not list(cwd.iterdir())


def test_killed_evaluate_leaves_no_process_and_nothing_stale(eval_sets: dict[str, Path], mrtrix: None,
                                                             tmp_path: Path) -> None:
    synthetic, out = tmp_path / "synthetic", tmp_path / "report"
    shutil.copytree(eval_sets["reference"], synthetic)
    args = [sys.executable, "-m", "monai_fodgan.evaluate", "--synthetic", str(synthetic), "--reference",
            str(eval_sets["reference"]), "--out", str(out), "--backend", "mrtrix", "--tracts", "CC", "--algorithms",
            "probabilistic", "--atlas", "mni", "--voxel", "8", "--streamlines", "400", "--tract-streamlines", "40",
            "--tract-seeds", "20", "--mantel-permutations", "9", "--mmd-permutations", "9", "--jobs", "2", "--no-progress"]
    proc = subprocess.Popen(args, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def tracking() -> bool:  # a worker is tracking: its folder is in the work area
        work = out / ".work"
        return work.is_dir() and any("-mrtrix-" in p.name for p in work.iterdir())

    family = _kill_when(proc, tracking)
    assert family
    _assert_all_die(family)
    assert any((out / ".work").iterdir())
    rerun = subprocess.run(args, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert not _stale(out), _stale(out)
    assert (out / "metrics.json").is_file() and (out / "report.html").is_file()
    assert not (out / "cache" / "work").exists()
