"""Intermediate results of an evaluation on disk, so that a re-run resumes where the last one stopped.

Each result is one ``.npz`` file (arrays plus a JSON ``meta`` entry) stored under a name and a KEY: a hash of
everything that produced it (the input file's contents, the parameters of that step, the keys of the steps it
used). A result is reused only when its key matches, so changing a parameter recomputes exactly what depends on
it. Files are written to a temporary name and renamed: a killed run leaves whole files or none.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from monai_fodgan.io import atomic_output

__all__ = ["ResultCache", "make_key"]


def make_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable ``parts`` (paths and tuples become strings and lists)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ResultCache:
    """Keyed ``.npz`` results under ``root``.

    Example::

        cache = ResultCache(out / "cache")
        hit = cache.load("synthetic/sub-synth0001/atlas", key)
        if hit is None:
            cache.save("synthetic/sub-synth0001/atlas", key, {"aal": aal}, {"method": "affine+syn"})
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.npz"

    def load(self, name: str, key: str) -> dict[str, Any] | None:
        """The arrays and ``meta`` stored under ``name``, or None when absent, unreadable or made with another key."""
        path = self.path(name)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["__key__"]) != key:
                    return None
                out: dict[str, Any] = {k: data[k] for k in data.files if not k.startswith("__")}
                out["meta"] = json.loads(str(data["__meta__"]))
        except (OSError, ValueError, KeyError):  # a foreign or damaged file: recompute
            return None
        return out

    def save(self, name: str, key: str, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        """Store ``arrays`` and JSON-serialisable ``meta`` under ``name`` with ``key``, atomically."""
        payload = {k: np.asarray(v) for k, v in arrays.items()}
        payload["__key__"] = np.asarray(key)
        payload["__meta__"] = np.asarray(json.dumps(meta or {}, default=float))
        with atomic_output(self.path(name)) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, **payload)

    def remove_stale_temporaries(self) -> None:
        """Delete temporaries a killed run left behind (hidden ``.<name>-*`` files of ``atomic_output``)."""
        if self.root.is_dir():
            for leftover in self.root.rglob(".*-*"):
                if leftover.is_file():
                    leftover.unlink(missing_ok=True)
