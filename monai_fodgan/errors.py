"""One-line messages for operating-system errors: which file, and what went wrong, in words.

A raw ``OSError`` traceback (read-only folder, no permission, disk full) hides the one thing a user needs: the
file. :func:`os_error_message` gives ``<file>: <problem>`` with a hint for the common cases, and the command-line
tools print it as their last line.
"""

from __future__ import annotations

import errno
import traceback

__all__ = ["os_error_message", "subject_failure"]

_HINTS = {
    errno.EROFS: "read-only file system; choose an output folder on a writable disk",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.ENOSPC: "no space left on the device; free space or choose another disk",
    errno.EDQUOT: "disk quota exceeded; free space or choose another disk",
    errno.EFBIG: "file too large for this file system or limit",
    errno.ENOTDIR: "a path component is a file, not a folder",
}


def os_error_message(err: OSError) -> str:
    """``"<file>: <problem>"`` for an ``OSError`` (the file from ``err.filename`` when known), on one line."""
    problem = _HINTS.get(err.errno) or err.strerror or str(err)
    text = f"{err.filename}: {problem}" if err.filename else problem
    return " ".join(text.split())


def subject_failure(subject: str, error: Exception, seconds: float) -> dict:
    """The record of a subject that failed during a cohort run (called in its ``except`` block): the error, with the
    subject named when the message does not already name it, and the last frames of the traceback."""
    message = str(error) if subject in str(error) else f"subject {subject}: {error}"
    return {"subject": subject, "status": "failed", "error": f"{type(error).__name__}: {message}",
            "traceback": traceback.format_exc(limit=3), "seconds": seconds}
