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


def test_a_copied_bundle_read_by_a_workflow_is_its_own_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MONAI's convention: bundle_root is the folder the configs are read from, whatever the command line says."""
    from monai.bundle import ConfigWorkflow

    from monai_fodgan.bundle_copy import copy_bundle

    copy = copy_bundle(tmp_path / "copy")
    assert sorted(p.name for p in (copy / "models").iterdir()) == sorted(p.name for p in (BUNDLE / "models").iterdir())
    monkeypatch.delenv("MONAI_FODGAN_BUNDLE_ROOT", raising=False)
    monkeypatch.setattr(sys, "argv", ["python", "--config_file", str(BUNDLE / "configs" / "inference.json")])
    workflow = ConfigWorkflow(config_file=[str(copy / "configs" / "inference.json"), str(copy / "configs" / "demo.json")],
                              workflow_type="inference")
    workflow.initialize()
    assert Path(workflow.bundle_root) == copy
    assert Path(workflow.parser.get_parsed_content("normalization_file")).resolve() == copy / "models" / "demo_sh_stats.json"


def test_copy_refuses_a_folder_with_files(tmp_path: Path) -> None:
    from monai_fodgan.bundle_copy import main

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    assert main([str(tmp_path / "taken")]) == 2
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]  # no temporary folder left behind
