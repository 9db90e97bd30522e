"""The result cache: keyed reuse, damaged files recomputed, leftovers of killed runs removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_fodgan.evaluation.cache import ResultCache, make_key


def test_results_are_reused_only_with_their_key(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    key = make_key("step", "digest", (1, 2))
    cache.save("a/b", key, {"x": np.arange(3)}, {"note": 1.5})
    hit = cache.load("a/b", key)
    np.testing.assert_array_equal(hit["x"], [0, 1, 2])
    assert hit["meta"] == {"note": 1.5}
    assert cache.load("a/b", make_key("step", "digest", (1, 3))) is None  # another parameter: recompute
    assert cache.load("missing", key) is None


def test_damaged_files_and_leftovers(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.path("bad").parent.mkdir(parents=True, exist_ok=True)
    cache.path("bad").write_bytes(b"not an npz")
    assert cache.load("bad", "k") is None
    leftover = tmp_path / "sub" / ".atlas-abc123.npz"  # what atomic_output leaves when a run is killed mid-write
    leftover.parent.mkdir()
    leftover.write_bytes(b"half")
    cache.remove_stale_temporaries()
    assert not leftover.exists() and cache.path("bad").exists()
