"""One run per output folder: an exclusive lock that names its holder and dies with it.

Two ``prepare`` runs into one folder mixed each other's ``datalist.json``, statistics and crop boxes, and one
deleted the other's temporary files. Every command that owns a folder (``prepare``, ``evaluate``, training's
checkpoint folder) therefore holds :class:`OutputLock` on it: ``fcntl.flock`` on ``<folder>/.lock``. The kernel
drops the lock when its holder exits for any reason, SIGKILL included, so a stale lock of a dead run is simply
taken over; a live holder makes a second run refuse at once with the holder's pid, host, start time and command
(or wait for it, ``wait=True``). The lock file is removed on a clean release.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

from monai_fodgan.errors import os_error_message

__all__ = ["LOCK_NAME", "OutputLock", "OutputLockedError", "OutputFolderError"]

LOCK_NAME = ".lock"


class OutputLockedError(RuntimeError):
    """Another live run holds the output folder; the message names the folder and the holder."""


class OutputFolderError(OSError):
    """The output folder cannot be created or written (read-only, no permission, no space); the message names it."""


def _describe(holder: dict) -> str:
    if not holder:
        return "another run (no details recorded yet)"
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}, "
            f"command: {holder.get('command')}")


class OutputLock:
    """Exclusive lock on an output folder (created if needed), as a context manager.

    Args:
        folder: the output folder.
        command: what to record as the holder's command (default: this process's command line).
        wait: block until the holder finishes instead of refusing.

    Attributes:
        previous: holder details left by a run that died without releasing (taken over), else None.

    Example::

        with OutputLock(out, wait=args.wait):
            ...  # the only run writing to ``out``

    Raises:
        OutputLockedError: on entry, when a live run holds the folder and ``wait`` is False.
        OutputFolderError: the folder or its lock file cannot be created or written.
    """

    def __init__(self, folder: str | Path, command: str | None = None, wait: bool = False) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command if command is not None else " ".join([Path(sys.executable).name, *sys.argv])
        self.wait = wait
        self.previous: dict | None = None
        self._fd: int | None = None

    def _read_holder(self, fd: int) -> dict:
        try:
            raw = os.pread(fd, 65536, 0)
            return json.loads(raw.decode()) if raw.strip() else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> OutputLock:
        if self._fd is not None:
            return self
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputFolderError(e.errno, f"cannot create the output folder: {os_error_message(e)}", str(self.folder)) from None
        announced = False
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as e:
                raise OutputFolderError(e.errno, f"cannot write to the output folder: {os_error_message(e)}",
                                        str(self.folder)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read_holder(fd)
                if not self.wait:
                    os.close(fd)
                    raise OutputLockedError(
                        f"{self.folder} is in use by another run ({_describe(holder)}); wait for it to finish, pass "
                        "--wait to queue behind it, or choose another output folder.") from None
                if not announced:
                    print(f"waiting for {self.folder}: in use by {_describe(holder)}", file=sys.stderr, flush=True)
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            # the previous holder may have removed the file between our open and our lock: lock the current one
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = self._read_holder(fd)
        self.previous = holder or None  # a clean release removes the file: content means its holder died
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": self.command}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        except OSError as e:
            os.close(fd)
            raise OutputFolderError(e.errno, f"cannot write the lock file: {os_error_message(e)}", str(self.path)) from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: a waiter then re-checks the inode
        except OSError as e:
            if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
