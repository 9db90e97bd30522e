"""No footguns in the bundle's configs: outputs go to the user's folder, inference finds the model training wrote,
and weights that do not fit a config are refused in one line before anything is built."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from monai.bundle import ConfigParser

from monai_fodgan.inference import WeightsMismatchError, check_weights
from monai_fodgan.networks import alpha_wgan_arguments
from tests.bundle.conftest import BUNDLE, CONFIGS, bundle_command, run_bundle
from tests.conftest import REPO_ROOT

SHIPPED = BUNDLE / "models" / "demo_model.pt"
SHIPPED_3MM = BUNDLE / "models" / "demo_3mm_model.pt"


def _parsed(files: list[str], *ids: str) -> dict[str, str]:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / f) for f in files])
    parser["bundle_root"] = str(BUNDLE)
    return {i: str(Path(parser.get_parsed_content(i))) for i in ids}


def test_outputs_default_to_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    train = _parsed(["train.json"], "output_dir", "ckpt_dir", "checkpoint_file")
    infer = _parsed(["inference.json"], "output_dir", "checkpoint_file")
    evaluate = _parsed(["evaluate.json"], "synthetic_dir", "output_dir")
    work = tmp_path / "fodgan_output"
    assert train == {"output_dir": str(work / "training"), "ckpt_dir": str(work / "training" / "checkpoints"),
                     "checkpoint_file": str(work / "training" / "model.pt")}
    assert infer == {"output_dir": str(work / "synthetic"), "checkpoint_file": train["checkpoint_file"]}
    assert evaluate == {"synthetic_dir": infer["output_dir"], "output_dir": str(work / "evaluation")}


def test_demo_override_points_every_config_at_the_main_jobs_folder() -> None:
    demo = (REPO_ROOT / "demo_output").resolve()
    train = _parsed(["train.json", "demo.json"], "checkpoint_file", "dataset_dir")
    infer = _parsed(["inference.json", "demo.json"], "checkpoint_file", "output_dir")
    evaluate = _parsed(["evaluate.json", "demo.json"], "synthetic_dir", "dataset_dir")
    assert Path(train["checkpoint_file"]).resolve() == Path(infer["checkpoint_file"]).resolve() == demo / "training" / "model.pt"
    assert Path(infer["output_dir"]).resolve() == Path(evaluate["synthetic_dir"]).resolve() == demo / "synthetic"
    assert Path(train["dataset_dir"]).resolve() == Path(evaluate["dataset_dir"]).resolve() == demo / "dataset"


def test_no_config_writes_into_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    written = {"train.json": ("output_dir", "ckpt_dir", "checkpoint_file"), "inference.json": ("output_dir",),
               "evaluate.json": ("output_dir",)}
    for config, ids in written.items():
        for files in ([config], [config, "demo.json"]):
            for path in _parsed(files, *ids).values():
                assert BUNDLE.resolve() not in Path(path).resolve().parents, (files, path)


def test_check_weights_accepts_matching_and_names_the_config_to_add(tmp_path: Path) -> None:
    check_weights(SHIPPED, alpha_wgan_arguments("demo", (32, 32, 16)), "demo", (32, 32, 16))
    with pytest.raises(WeightsMismatchError, match=r"preset 'demo' on 32 x 32 x 16 .*preset 'paper' on 128 x 128 x 64.*add "
                                                   r"configs/demo.json to --config_file"):
        check_weights(SHIPPED, alpha_wgan_arguments("paper", (128, 128, 64)), "paper", (128, 128, 64))
    with pytest.raises(WeightsMismatchError, match="no weights at .*train first"):
        check_weights(tmp_path / "model.pt", alpha_wgan_arguments("demo", (32, 32, 16)), "demo", (32, 32, 16))
    # the 3 mm model with demo.json alone: the grid's config is named too, after the preset's
    check_weights(SHIPPED_3MM, alpha_wgan_arguments("demo", (56, 64, 56)), "demo", (56, 64, 56))
    with pytest.raises(WeightsMismatchError, match=r"preset 'demo' on 56 x 64 x 56 .*preset 'demo' on 32 x 32 x 16.*add "
                                                   r"configs/demo.json and then configs/demo_3mm.json to --config_file"):
        check_weights(SHIPPED_3MM, alpha_wgan_arguments("demo", (32, 32, 16)), "demo", (32, 32, 16))


def test_inference_with_mismatched_weights_stops_in_one_line_before_building(tmp_path: Path) -> None:
    before = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    start = time.perf_counter()
    result = run_bundle(bundle_command("inference", [CONFIGS / "inference.json"], "--checkpoint_file", str(SHIPPED),
                                       "--output_dir", str(tmp_path / "synthetic")), cwd=tmp_path, timeout=300)
    seconds = time.perf_counter() - start
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {SHIPPED} holds a generator of preset 'demo'") and "add configs/demo.json" in last
    assert "Traceback" not in result.stderr and "size mismatch" not in result.stderr
    assert seconds < 60, f"{seconds:.0f} s: the paper's 1.2-billion-parameter generator was built (about 2 min on 2 cores)"
    assert not (tmp_path / "synthetic").exists()
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == before


def test_main_job_names_the_shipped_model_of_its_grid() -> None:
    # what the main job points to when it trains from scratch on a grid whose full training state is not shipped
    from monai_fodgan.demo import _shipped_weights

    assert _shipped_weights(BUNDLE / "models", [32, 32, 16]) == SHIPPED
    assert _shipped_weights(BUNDLE / "models", [56, 64, 56]) == SHIPPED_3MM
    assert _shipped_weights(BUNDLE / "models", [40, 40, 40]) is None
