"""Finding the bundle folder from any working directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from monai_fodgan.bundle_paths import bundle_root, source_bundle
from tests.bundle.conftest import BUNDLE


@pytest.mark.parametrize("argv", [
    ["-m", "run", "training", "--config_file", "{root}/configs/train.json"],
    ["-m", "run", "--config_file={root}/configs/train.json"],
    ["-m", "run", "--config_file", "['{root}/configs/train.json','/elsewhere/demo.json']"],
])
def test_bundle_root_from_the_config_file_argument(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "copied_bundle"
    (copy / "configs").mkdir(parents=True)
    monkeypatch.delenv("MONAI_FODGAN_BUNDLE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [a.format(root=copy) for a in argv])
    assert bundle_root() == str(copy.resolve())


def test_environment_variable_wins_and_source_tree_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["pytest"])
    monkeypatch.delenv("MONAI_FODGAN_BUNDLE_ROOT", raising=False)
    assert bundle_root() == str(source_bundle()) == str(BUNDLE)
    monkeypatch.setenv("MONAI_FODGAN_BUNDLE_ROOT", str(tmp_path))
    assert bundle_root() == str(tmp_path.resolve())
