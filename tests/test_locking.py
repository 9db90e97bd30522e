"""One run per output folder (issue 15, item 2): a second run refuses at once naming the holder, or waits with
``--wait``; a SIGKILLed holder's lock is taken over; prepare, evaluate and training's checkpoint folder all lock.

Holders are real processes (``OutputLock`` in a child Python), killed with real signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monai_fodgan.locking import LOCK_NAME, OutputLock, OutputLockedError

REPO = Path(__file__).resolve().parents[1]
_HOLD = ("import sys, time\nfrom monai_fodgan.locking import OutputLock\n"
         "lock = OutputLock(sys.argv[1], command='holder-under-test').acquire()\n"
         "print('held', flush=True)\ntime.sleep(float(sys.argv[2]))\nlock.release()\n")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _holder(folder: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), str(seconds)], stdout=subprocess.PIPE, text=True,
                            env=_env())
    assert proc.stdout.readline().strip() == "held"
    return proc


def _table(folder: Path, fods: list[Path]) -> Path:
    table = folder / "subjects.csv"
    table.write_text("subject,fod\n" + "".join(f"{p.name.split('.')[0]},{p}\n" for p in fods))
    return table


def test_second_run_refuses_naming_the_holder(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "out", 60)
    try:
        with pytest.raises(OutputLockedError) as info:
            OutputLock(tmp_path / "out").acquire()
        message = str(info.value)
        assert f"pid {holder.pid}" in message and socket.gethostname() in message and "holder-under-test" in message
        assert "--wait" in message and "\n" not in message
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_holder_is_taken_over(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "out", 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "out" / LOCK_NAME).is_file()  # left behind, naming a dead process
    with OutputLock(tmp_path / "out") as lock:
        assert lock.previous["pid"] == holder.pid
        assert json.loads((tmp_path / "out" / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / "out" / LOCK_NAME).exists()  # a clean release removes it


def test_wait_queues_behind_the_holder(tmp_path: Path) -> None:
    holder = _holder(tmp_path / "out", 1.5)
    start = time.monotonic()
    with OutputLock(tmp_path / "out", wait=True):
        assert time.monotonic() - start > 1.0
        holder.wait(timeout=30)
        assert holder.returncode == 0


# the CLI imports its heavy modules only after parsing (fast --help): import them before "ready" as well
_READY = ("import sys\nfrom monai_fodgan.prepare.__main__ import main\nimport monai_fodgan.prepare.cohort\n"
          "import monai_fodgan.prepare.inputs\nprint('ready', flush=True)\n"
          "sys.stdin.readline()\nsys.exit(main(sys.argv[1:]))\n")


def _ready_prepare(args: list[str]) -> subprocess.Popen:
    """A prepare run with its imports done, started by a line on stdin (so runs can be started milliseconds apart)."""
    proc = subprocess.Popen([sys.executable, "-c", _READY, *args], env=_env(), text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _go(proc: subprocess.Popen) -> None:
    proc.stdin.write("go\n")
    proc.stdin.flush()


def test_concurrent_prepare_runs(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    """The probe's failure: two prepare runs into one folder mixed their outputs. Now the second refuses at once,
    naming the first, and a third with --wait runs after it; the folder ends consistent."""
    fods = sorted((tiny_fod_dataset / "fod").glob("*.nii.gz"))
    out = tmp_path / "set"
    base = ["--out", str(out), "--shape", "16", "16", "8", "--val", "1"]
    other = tmp_path / "other"
    other.mkdir()
    first = _ready_prepare([*base, "--table", str(_table(tmp_path, fods[:6]))])
    refused = _ready_prepare([*base, "--table", str(_table(other, fods[6:]))])
    waiting = _ready_prepare([*base, "--table", str(_table(other, fods[6:])), "--wait"])
    _go(first)
    deadline = time.monotonic() + 120
    while not (out / LOCK_NAME).is_file() and time.monotonic() < deadline:
        time.sleep(0.002)
    _go(refused)
    _go(waiting)
    assert refused.wait(timeout=300) == 2
    stderr = refused.stderr.read()
    assert f"pid {first.pid}" in stderr and "--wait" in stderr, stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert waiting.wait(timeout=300) == 0, waiting.stderr.read()
    datalist = json.loads((out / "datalist.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    listed = sorted(e["subject"] for k in ("training", "validation") for e in datalist[k])
    assert listed == sorted(p.name.split(".")[0] for p in fods)  # the waiting run added to the first run's dataset
    assert summary["dataset"]["training"] == [e["subject"] for e in datalist["training"]]
    assert summary["dataset"]["validation"] == [e["subject"] for e in datalist["validation"]]
    assert not (out / LOCK_NAME).exists() and not (out / ".work").exists()


def test_prepare_and_evaluate_refuse_a_held_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from monai_fodgan.evaluate import main as evaluate
    from monai_fodgan.prepare.__main__ import main as prepare

    holder = _holder(tmp_path / "out", 60)
    (tmp_path / "wm.nii.gz").write_bytes(b"")  # exists (prepare checks that first); the lock refuses before reading it
    try:
        assert prepare(["--fod", str(tmp_path / "wm.nii.gz"), "--out", str(tmp_path / "out")]) == 2
        assert evaluate(["--synthetic", str(tmp_path), "--reference", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 2 and all(f"pid {holder.pid}" in line and str(tmp_path / "out") in line for line in err)
    finally:
        holder.kill()
        holder.wait()


def test_training_locks_its_checkpoint_folder(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    from monai_fodgan.engines import AlphaWGANCheckpoint
    from tests.engines.test_trainer import make_trainer

    ckpt = tmp_path / "ckpt"
    holder = _holder(ckpt, 60)
    try:
        trainer = make_trainer(tiny_fod_dataset, iterations=1)
        AlphaWGANCheckpoint(ckpt).attach(trainer)
        with pytest.raises(OutputLockedError, match=f"pid {holder.pid}"):
            trainer.run()
        assert not list(ckpt.glob("checkpoint_*.pt"))
    finally:
        holder.kill()
        holder.wait()
    trainer = make_trainer(tiny_fod_dataset, iterations=1)
    AlphaWGANCheckpoint(ckpt).attach(trainer)
    trainer.run()  # the killed holder's lock is taken over
    assert len(list(ckpt.glob("checkpoint_*.pt"))) == 1 and not (ckpt / LOCK_NAME).exists()
