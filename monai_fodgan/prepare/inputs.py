"""Where the subjects come from: one subject's command-line paths, a CSV/TSV table, or a BIDS-style folder."""

from __future__ import annotations

import csv
from pathlib import Path

from monai_fodgan.prepare.dwi import DWIInput
from monai_fodgan.safe_paths import check_subject_id

__all__ = ["read_table", "scan_bids"]

_COLUMNS = ("subject", "dwi", "bval", "bvec", "mask", "fod")


def read_table(path: str | Path) -> list[DWIInput]:
    """Subjects from a CSV or TSV table with a header: ``subject`` and either ``dwi`` (+ ``bval``, ``bvec``,
    optional ``mask``) or ``fod``. Relative paths are relative to the table's folder.

    Raises:
        ValueError: unknown or missing columns, a row without dwi/fod, an unsafe subject ID (see
            :func:`monai_fodgan.safe_paths.check_subject_id`) or a subject listed twice (the lines are named).
    """
    path = Path(path)
    text = path.read_text()
    if not text.strip():
        raise ValueError(f"{path}: empty table; expected a header line (subject,dwi,bval,bvec,mask,fod) and one line per subject.")
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" or "\t" in text.splitlines()[0] else csv.excel
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    if not rows:
        raise ValueError(f"{path}: no subjects.")
    unknown = set(rows[0]) - set(_COLUMNS) - {None}  # None: a line with more fields than the header (named below)
    if "subject" not in rows[0] or unknown:
        raise ValueError(f"{path}: columns must include 'subject' and be among {_COLUMNS}; unknown: {sorted(unknown)}.")
    items, lines = [], {}
    for n, row in enumerate(rows, start=2):
        subject = check_subject_id((row["subject"] or "").strip(), f"{path}, line {n}")
        if subject in lines:
            raise ValueError(f"{path}, lines {lines[subject]} and {n}: subject {subject!r} is listed twice.")
        lines[subject] = n
        if None in row or None in row.values():
            raise ValueError(f"{path}, line {n}: {len(rows[0])} columns in the header, another number on this line.")
        paths = {k: (path.parent / v.strip() if v and v.strip() else None) for k, v in row.items() if k != "subject"}
        if paths.get("dwi") is None and paths.get("fod") is None:
            raise ValueError(f"{path}, line {n}: subject {row['subject']!r} has neither a dwi nor a fod.")
        items.append(DWIInput(subject=subject, **{k: paths.get(k) for k in _COLUMNS[1:]}))
    return items


def scan_bids(root: str | Path) -> list[DWIInput]:
    """Subjects of a BIDS-style folder: ``sub-*/[ses-*/]dwi/*_dwi.nii[.gz]`` with ``.bval``/``.bvec`` beside;
    a ``*_mask.nii[.gz]`` beside is used as brain mask. Sessions become ``sub-X_ses-Y``."""
    root = Path(root)
    items = []
    for dwi in sorted(root.glob("sub-*/**/dwi/*_dwi.nii*")):
        stem = dwi.name.split(".nii")[0]
        base = stem[: -len("_dwi")]
        masks = sorted(dwi.parent.glob(f"{base}*_mask.nii*"))
        subject = check_subject_id("_".join(part for part in base.split("_") if part.startswith(("sub-", "ses-"))), str(dwi))
        items.append(DWIInput(subject=subject, dwi=dwi, bval=dwi.parent / f"{stem}.bval",
                              bvec=dwi.parent / f"{stem}.bvec", mask=masks[0] if masks else None))
    if not items:
        raise ValueError(f"{root}: no sub-*/dwi/*_dwi.nii[.gz] files found.")
    return items
