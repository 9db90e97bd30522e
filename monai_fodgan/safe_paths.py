"""Names that become paths: subject IDs restricted to a safe pattern, output paths kept under the output folder.

Subject IDs come from tables, BIDS folder names and the command line, and each one becomes a file name
(``fod/<subject>.nii.gz``). An ID such as ``../../evil`` or ``/etc/x`` would write outside ``--out``, so IDs
must match a BIDS-like pattern (letters, digits, ``.``, ``_``, ``-``; starting with a letter or digit; no
``..``), and every path built from one is checked again to resolve under the output folder (defence in depth:
a symbolic link inside the output folder cannot redirect it either).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["SUBJECT_ID_PATTERN", "UnsafePathError", "check_subject_id", "path_under"]

#: letters, digits, ".", "_" and "-", starting with a letter or digit (BIDS labels plus "sub-"/"_ses-" joins)
SUBJECT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class UnsafePathError(ValueError):
    """A subject ID or output path would leave the output folder; the message names the source and the value."""


def check_subject_id(subject: str, source: str = "subject ID") -> str:
    """Return ``subject`` if it is a safe file-name stem, else raise naming ``source`` (file, line or option).

    Example::

        check_subject_id("sub-01_ses-2")      # ok
        check_subject_id("../../evil")        # UnsafePathError

    Raises:
        UnsafePathError: empty, too long, outside ``SUBJECT_ID_PATTERN``, or containing ``..``.
    """
    if not isinstance(subject, str) or not SUBJECT_ID_PATTERN.fullmatch(subject) or ".." in subject or len(subject) > 200:
        raise UnsafePathError(
            f"{source}: subject ID {subject!r} is not allowed; use letters, digits, '.', '_' and '-' only, starting "
            "with a letter or digit, without '..' (e.g. sub-01).")
    return subject


def path_under(root: str | Path, path: str | Path) -> Path:
    """``path`` (relative to ``root`` or absolute) if it resolves inside ``root``, else raise.

    Raises:
        UnsafePathError: the resolved path lies outside the resolved ``root``.
    """
    root_resolved = Path(root).resolve()
    candidate = Path(root) / path
    resolved = candidate.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise UnsafePathError(f"{candidate}: would be written outside the output folder {root}.")
    return candidate
