"""Reading a prepared dataset's ``datalist.json`` with errors that name the file.

MONAI's ``load_decathlon_datalist`` raises a bare ``JSONDecodeError`` (no path) on a malformed file and a
``ValueError`` without the file for a missing key; the bundle configs read the datalist through
:func:`load_datalist` instead, which checks the file first and then delegates to MONAI.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from monai.data import load_decathlon_datalist

from monai_fodgan.validation import FODValidationError

__all__ = ["evenly_spaced", "load_datalist"]


def load_datalist(path: str | Path, key: str = "training", base_dir: str | Path | None = None) -> list[dict]:
    """The entries of ``key`` in a MONAI datalist, image paths made absolute (relative to ``base_dir``, by default
    the datalist's folder), as ``monai.data.load_decathlon_datalist(path, False, key, base_dir)``.

    Example::

        train = load_datalist("dataset/datalist.json", "training")   # [{"image": "/.../fod/sub-01.nii.gz", ...}]

    Raises:
        FileNotFoundError: no such file.
        FODValidationError: not JSON, not an object, no list under ``key``, or an entry without ``image``
            (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such datalist (python -m monai_fodgan.prepare writes one).")
    try:
        datalist = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise FODValidationError(f"{path}: malformed datalist JSON (line {e.lineno}, column {e.colno}: {e.msg}).") from None
    except UnicodeDecodeError as e:
        raise FODValidationError(f"{path}: not a text file ({e.reason}).") from None
    if not isinstance(datalist, dict) or not isinstance(datalist.get(key), list):
        keys = sorted(datalist) if isinstance(datalist, dict) else type(datalist).__name__
        raise FODValidationError(f"{path}: no list of entries under {key!r} (keys: {keys}).")
    for i, entry in enumerate(datalist[key]):
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            raise FODValidationError(f"{path}: entry {i} of {key!r} has no 'image' path: {entry!r}.")
    return load_decathlon_datalist(str(path), False, key, None if base_dir is None else str(base_dir))


def evenly_spaced(items: list, count: int) -> list:
    """At most ``count`` entries of ``items``, evenly spaced from the first to the last (all when there are fewer):
    the subset of a cohort that statistics or checks read when reading every image would cost too much."""
    picks = np.unique(np.linspace(0, len(items) - 1, min(len(items), count)).round().astype(int))
    return [items[int(i)] for i in picks]
