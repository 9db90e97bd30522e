"""MONAI's own bundle tools on this bundle, as MONAI documents them: ``monai.bundle.load``, ``ConfigWorkflow``,
``verify_metadata``, ``verify_net_in_out``, ``ckpt_export`` and ``onnx_export`` (the last four through
``python -m monai.bundle`` in subprocesses), and exports whose outputs equal ``run inference``'s."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow, load

from monai_fodgan.inference import latent_codes
from monai_fodgan.networks.strict_loading import PartialLoadError
from monai_fodgan.sh import n_coeffs
from tests.bundle.conftest import BUNDLE, CONFIGS, bundle_command, run_bundle

DEMO = BUNDLE / "models" / "demo_model.pt"
DEMO_CONFIGS = f"['{CONFIGS / 'inference.json'}','{CONFIGS / 'demo.json'}']"
#: the demo weights' input: MONAI reads the input size from metadata.json, which describes the paper model
DEMO_INPUT = ["--_meta_#network_data_format#inputs#image#num_channels", "64"]


def _monai(*args: str, cwd: Path, timeout: int = 300) -> str:
    result = run_bundle([sys.executable, "-m", "monai.bundle", *args], cwd=cwd, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_metadata_describes_the_model_inference_json_builds() -> None:
    meta = json.loads((CONFIGS / "metadata.json").read_text())["network_data_format"]
    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "inference.json"))
    parser["bundle_root"] = str(BUNDLE)
    generator = parser.get_parsed_content("network_args")["generator"]
    latent, pred = meta["inputs"]["image"], meta["outputs"]["pred"]  # the keys MONAI's tools read
    assert latent["num_channels"] == generator["latent_size"] == 5000 and latent["spatial_shape"] == []
    assert pred["num_channels"] == generator["out_channels"] == n_coeffs(6)
    assert pred["spatial_shape"] == list(generator["spatial_shape"]) == parser.get_parsed_content("spatial_shape")
    # MONAI Label reads channel_def keys with int(): one per channel, named by the SH convention l(l+1)/2 + m
    assert sorted(int(k) for k in pred["channel_def"]) == list(range(28))
    for key, name in pred["channel_def"].items():
        l, m = (int(part.split("=")[1]) for part in name.split())
        assert int(key) == l * (l + 1) // 2 + m


def test_verify_metadata_against_the_shipped_schema(tmp_path: Path) -> None:
    out = _monai("verify_metadata", "--meta_file", str(CONFIGS / "metadata.json"),
                 "--filepath", str(BUNDLE / "docs" / "meta_schema.json"), cwd=tmp_path)
    assert "metadata is verified with no error" in out


@pytest.mark.parametrize("workflow_type", ["train", "inference"])
def test_load_returns_the_shipped_weights(workflow_type: str) -> None:
    net = load(name="bundle", bundle_dir=str(BUNDLE.parent), model_file="models/demo_model.pt", key_in_ckpt="model",
               workflow_type=workflow_type, args_file=str(CONFIGS / "demo.json"), device="cpu")
    shipped = torch.load(DEMO, weights_only=True)["model"]
    assert net.state_dict().keys() == shipped.keys()
    assert all(torch.equal(value, shipped[key]) for key, value in net.state_dict().items())


@pytest.mark.parametrize("case", ["other preset", "no key_in_ckpt"])
def test_load_refuses_weights_that_would_stay_random(case: str, tmp_path: Path) -> None:
    args = CONFIGS / "demo.json"
    if case == "other preset":  # the demo weights into the tiny preset's generator: a few names and shapes match
        args = tmp_path / "tiny.json"
        args.write_text(json.dumps({"preset": "tiny", "spatial_shape": [32, 32, 16], "device": "cpu"}))
    key = "model" if case == "other preset" else None
    with pytest.raises(PartialLoadError, match=rf"{DEMO}: \d+ of \d+ tensors of this FODGenerator are not in it"):
        load(name="bundle", bundle_dir=str(BUNDLE.parent), model_file="models/demo_model.pt", key_in_ckpt=key,
             workflow_type="inference", args_file=str(args), device="cpu")


def test_config_workflow_runs_inference_with_the_bundle_as_root(tmp_path: Path) -> None:
    workflow = ConfigWorkflow(config_file=[str(CONFIGS / "inference.json"), str(CONFIGS / "demo.json")],
                              workflow_type="inference", checkpoint_file=str(DEMO), work_dir=str(tmp_path), num_samples=2)
    workflow.initialize()
    assert workflow.check_properties() == []
    assert Path(workflow.bundle_root) == BUNDLE.resolve()  # the folder the configs were read from
    workflow.run()
    workflow.finalize()
    assert sorted(p.name for p in (tmp_path / "synthetic").glob("*.nii.gz")) == ["sub-synth0001.nii.gz", "sub-synth0002.nii.gz"]


def test_verify_net_in_out_of_both_networks(tmp_path: Path) -> None:
    for net_id in ("network_def", "export_network_def"):
        out = _monai("verify_net_in_out", net_id, "--config_file", DEMO_CONFIGS, "--meta_file", str(CONFIGS / "metadata.json"),
                     "--device", "cpu", *DEMO_INPUT, cwd=tmp_path)
        assert "data shape of network is verified with no error" in out


@pytest.fixture(scope="module")
def inference_and_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``run inference`` of the shipped demo model (3 subjects) and its TorchScript (scripted and traced) and ONNX
    exports, all through
    ``python -m monai.bundle`` from an unrelated working directory."""
    work = tmp_path_factory.mktemp("exports")
    run = run_bundle(bundle_command("inference", [CONFIGS / "inference.json", CONFIGS / "demo.json"], "--checkpoint_file",
                                    str(DEMO), "--work_dir", str(work), "--num_samples", "3", "--seed", "5"), cwd=work)
    assert run.returncode == 0, run.stderr[-3000:]
    common = ["export_network_def", "--bundle_root", str(BUNDLE), "--config_file", DEMO_CONFIGS, "--ckpt_file", str(DEMO)]
    _monai("ckpt_export", *common, "--filepath", str(work / "fodgan.ts"), cwd=work)
    _monai("ckpt_export", *common, "--use_trace", "True", *DEMO_INPUT, "--filepath", str(work / "fodgan_traced.ts"), cwd=work)
    _monai("onnx_export", *common, "--meta_file", str(CONFIGS / "metadata.json"), *DEMO_INPUT,
           "--filepath", str(work / "fodgan.onnx"), cwd=work)
    return work


def _written(work: Path, k: int) -> np.ndarray:
    """Subject k as run inference wrote it, channel first (C, X, Y, Z)."""
    return np.moveaxis(np.asarray(nib.load(work / "synthetic" / f"sub-synth{k + 1:04d}.nii.gz").dataobj), -1, 0)


def test_torchscript_and_onnx_exports_equal_run_inference(inference_and_exports: Path) -> None:
    import onnxruntime

    work = inference_and_exports
    codes = latent_codes(3, 64, seed=5)  # the codes run inference drew for --seed 5
    scripted = torch.jit.load(str(work / "fodgan.ts"))
    traced = torch.jit.load(str(work / "fodgan_traced.ts"))
    session = onnxruntime.InferenceSession(str(work / "fodgan.onnx"))
    feed = session.get_inputs()[0].name
    for k in range(3):
        truth = _written(work, k)
        assert truth.shape == (28, 32, 32, 16) and np.abs(truth).max() > 0.1  # real FODs in the data's units
        with torch.no_grad():
            ts, tr = (net(codes[k:k + 1])[0].numpy() for net in (scripted, traced))
        onnx = session.run(None, {feed: codes[k:k + 1].numpy()})[0][0]
        for name, out in (("TorchScript", ts), ("traced TorchScript", tr), ("ONNX", onnx)):
            relative = np.linalg.norm(out - truth) / np.linalg.norm(truth)
            assert relative < 1e-5, f"{name} subject {k}: relative L2 {relative:.2e} from run inference"


def test_bare_generator_export_is_not_what_inference_writes(inference_and_exports: Path) -> None:
    """Why export_network_def exists: the generator alone (trained running statistics, normalised output) differs."""
    from monai_fodgan.inference import load_weights
    from monai_fodgan.networks import FODGenerator, alpha_wgan_arguments

    generator = FODGenerator(**alpha_wgan_arguments("demo", (32, 32, 16))["generator"])
    load_weights(DEMO, generator)
    with torch.no_grad():
        bare = generator.eval()(latent_codes(1, 64, seed=5))[0].numpy()
    truth = _written(inference_and_exports, 0)
    assert np.linalg.norm(bare - truth) / np.linalg.norm(truth) > 0.1


def test_export_of_a_plain_state_dict_is_refused(tmp_path: Path) -> None:
    """--key_in_ckpt model hands FODSynthesizer only the generator: no statistics to de-normalise with."""
    result = run_bundle([sys.executable, "-m", "monai.bundle", "ckpt_export", "export_network_def", "--bundle_root", str(BUNDLE),
                         "--config_file", DEMO_CONFIGS, "--ckpt_file", str(DEMO), "--key_in_ckpt", "model",
                         "--filepath", str(tmp_path / "x.ts")], cwd=tmp_path)
    assert result.returncode != 0 and "leave out --key_in_ckpt" in result.stderr
    assert not (tmp_path / "x.ts").exists()
