"""The MONAI bundle, run for real through ``python -m monai.bundle`` and MONAI's own checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigWorkflow

from monai_fodgan.data import load_datalist
from monai_fodgan.inference import load_bundle, load_weights, reconstruct, sample_images
from monai_fodgan.io import load_fod
from monai_fodgan.networks import build_alpha_wgan
from tests.bundle.conftest import BUNDLE, CONFIGS, bundle_command, read_losses, run_bundle, tiny_config
from tests.conftest import TINY_SHAPE


def test_metadata_verifies_offline(tmp_path: Path) -> None:
    result = run_bundle([sys.executable, "-m", "monai.bundle", "verify_metadata", "--meta_file", str(CONFIGS / "metadata.json"),
                         "--filepath", str(BUNDLE / "docs" / "meta_schema.json")], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "metadata is verified with no error" in result.stdout + result.stderr


@pytest.mark.parametrize(("config", "kind"), [("train.json", "train"), ("inference.json", "infer")])
def test_monai_property_checks_pass(config: str, kind: str, trained_tiny: tuple[Path, Path]) -> None:
    # what MONAI Label does: override data and weights, initialise, check the properties it relies on
    out, override = trained_tiny
    workflow = ConfigWorkflow(config_file=[str(CONFIGS / config), str(override)], meta_file=str(CONFIGS / "metadata.json"),
                              logging_file=str(CONFIGS / "logging.conf"), workflow_type=kind,
                              checkpoint_file=str(out / "model.pt"), ckpt_dir=str(out / "checks"))
    workflow.initialize()
    assert not workflow.check_properties()
    assert isinstance(workflow.network_def, torch.nn.Module)
    assert workflow.bundle_root == str(BUNDLE)


def test_training_writes_model_checkpoints_and_monitoring(trained_tiny: tuple[Path, Path], tiny_fod_dataset: Path) -> None:
    out, _ = trained_tiny
    model = torch.load(out / "model.pt", weights_only=True)
    nets = build_alpha_wgan("tiny", TINY_SHAPE)
    nets["generator"].load_state_dict(model["model"])  # the bundle's "model" key is the generator
    assert model["trainer"]["iteration"] == 4
    ref = nib.load(tiny_fod_dataset / "fod" / "sub-0001.nii.gz")
    np.testing.assert_allclose(model["grid"]["affine"].numpy(), ref.affine, atol=1e-6)
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint_*.pt")) == [
        "checkpoint_00000002.pt", "checkpoint_00000004.pt"]
    assert sorted(read_losses(out / "losses.jsonl")) == [1, 2, 3, 4]
    assert (out / "samples" / "samples_00000004.png").stat().st_size > 1000
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_training_checks_memorisation_with_the_generator_of_each_iteration(trained_tiny: tuple[Path, Path],
                                                                           tiny_fod_dataset: Path) -> None:
    from monai_fodgan.engines import MemorisationCheck

    out, _ = trained_tiny
    records = [json.loads(line) for line in (out / "memorisation.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [2, 4]  # every 2 iterations; the end (4) is not checked twice
    assert all((r["samples"], r["training_images"], r["held_out_images"]) == (16, 6, 2) for r in records)
    # the final model, checked again outside training, gives the run's last record
    nets = build_alpha_wgan("tiny", TINY_SHAPE)
    trained = load_weights(out / "model.pt", nets["generator"], nets["encoder"])
    again = MemorisationCheck(nets["generator"], tiny_fod_dataset / "datalist.json", trained.normalization,
                              out / "again.jsonl", n=16).check()
    assert again["flagged"] == records[-1]["flagged"]
    assert again["ratio_of_medians"] == pytest.approx(records[-1]["ratio_of_medians"], rel=1e-5)


def test_inference_writes_denormalised_subjects_on_training_grid(trained_tiny: tuple[Path, Path], tiny_fod_dataset: Path,
                                                               tmp_path: Path) -> None:
    out, override = trained_tiny
    synth = tmp_path / "synthetic"
    result = run_bundle(bundle_command("inference", [CONFIGS / "inference.json", override], "--checkpoint_file", str(out / "model.pt"),
                                       "--output_dir", str(synth), "--num_samples", "3", "--seed", "5"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    listing = json.loads((synth / "synthetic.json").read_text())["synthetic"]
    assert [e["subject"] for e in listing] == ["sub-synth0001", "sub-synth0002", "sub-synth0003"]
    nets = build_alpha_wgan("tiny", TINY_SHAPE)
    trained = load_weights(out / "model.pt", nets["generator"])
    expected = trained.normalization.denormalize(sample_images(trained.generator, 3, seed=5), channel_dim=1)
    ref = nib.load(tiny_fod_dataset / "fod" / "sub-0001.nii.gz")
    for k in range(3):
        img = nib.load(synth / f"sub-synth{k + 1:04d}.nii.gz")
        assert img.shape == (*TINY_SHAPE, 28)
        np.testing.assert_allclose(img.affine, ref.affine, atol=1e-6)
        np.testing.assert_allclose(np.moveaxis(img.get_fdata(), -1, 0), expected[k].numpy(), rtol=1e-5, atol=1e-6)



def test_background_is_exactly_zero_outside_the_training_population_mask(trained_tiny: tuple[Path, Path],
                                                                        tiny_fod_dataset: Path, tmp_path: Path) -> None:
    # train.json's default background rule: G's output times the population mask, stored in model.pt
    out, override = trained_tiny
    saved = torch.load(out / "model.pt", weights_only=True)
    training = load_datalist(tiny_fod_dataset / "datalist.json", "training")
    counts = sum((nib.load(e["image"]).get_fdata()[..., 0] != 0).astype(int) for e in training)
    expected_mask = counts >= 0.5 * len(training)
    assert 0 < expected_mask.sum() < expected_mask.size  # the rule would fail if it kept all or nothing
    np.testing.assert_array_equal(saved["brain_mask"].numpy(), expected_mask)
    synth = tmp_path / "synthetic"
    result = run_bundle(bundle_command("inference", [CONFIGS / "inference.json", override], "--checkpoint_file", str(out / "model.pt"),
                                       "--output_dir", str(synth), "--num_samples", "2"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for k in range(2):
        fod = nib.load(synth / f"sub-synth{k + 1:04d}.nii.gz").get_fdata()
        assert np.all(fod[~expected_mask] == 0)
        assert np.count_nonzero(fod[expected_mask][:, 0]) == expected_mask.sum()
    # the export module (what ckpt_export / onnx_export write) keeps the mask: TorchScript equals run inference
    from monai_fodgan.inference import FODSynthesizer, latent_codes

    exported = torch.jit.script(FODSynthesizer(build_alpha_wgan("tiny", TINY_SHAPE)["generator"], out / "model.pt"))
    codes = latent_codes(2, exported.generator.latent_size, seed=0)
    with torch.no_grad():
        for k in range(2):
            written = np.moveaxis(nib.load(synth / f"sub-synth{k + 1:04d}.nii.gz").get_fdata(), -1, 0)
            np.testing.assert_allclose(exported(codes[k:k + 1])[0].numpy(), written, rtol=1e-4, atol=1e-6)


def test_reconstruction_and_interpolation_modes(trained_tiny: tuple[Path, Path], tiny_fod_dataset: Path, tmp_path: Path) -> None:
    out, override = trained_tiny
    common = ["--checkpoint_file", str(out / "model.pt")]
    rec = run_bundle(bundle_command("run", [CONFIGS / "inference.json", override], *common, "--mode", "reconstruct",
                                    "--output_dir", str(tmp_path / "rec")), cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "rec").glob("*.nii.gz")) == ["sub-0007_recon.nii.gz", "sub-0008_recon.nii.gz"]
    itp = run_bundle(bundle_command("run", [CONFIGS / "inference.json", override], *common, "--mode", "interpolate",
                                    "--interpolation_steps", "3", "--output_dir", str(tmp_path / "itp")), cwd=tmp_path)
    assert itp.returncode == 0, itp.stderr[-3000:]
    # the bundle's reconstruction is the Python API's (one generator state, standing statistics of prior samples)
    nets = build_alpha_wgan("tiny", TINY_SHAPE)
    trained = load_weights(out / "model.pt", nets["generator"], nets["encoder"])
    images = torch.stack([trained.normalization.normalize(load_fod(tiny_fod_dataset / "fod" / f"{s}.nii.gz", lmax=6,
                                                                   truncate=True).as_tensor().float())
                          for s in ("sub-0007", "sub-0008")])
    expected = trained.normalization.denormalize(reconstruct(trained.generator, trained.encoder, images), channel_dim=1)
    for k, subject in enumerate(("sub-0007", "sub-0008")):
        got = np.moveaxis(nib.load(tmp_path / "rec" / f"{subject}_recon.nii.gz").get_fdata(), -1, 0)
        np.testing.assert_allclose(got, expected[k].numpy(), rtol=1e-4, atol=1e-6)
    # the ends of the interpolation are the reconstructions of the two subjects
    for step, subject in ((0, "sub-0007"), (2, "sub-0008")):
        a = nib.load(tmp_path / "itp" / f"interp_sub-0007_sub-0008_{step:02d}.nii.gz").get_fdata()
        b = nib.load(tmp_path / "rec" / f"{subject}_recon.nii.gz").get_fdata()
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_load_bundle_from_another_program(trained_tiny: tuple[Path, Path]) -> None:
    out, override = trained_tiny
    model = load_bundle(BUNDLE, config_file=[CONFIGS / "inference.json", override], model_file=out / "model.pt")
    saved = torch.load(out / "model.pt", weights_only=True)
    for k, v in model.generator.state_dict().items():
        assert torch.equal(v, saved["model"][k])
    assert model.spatial_shape == TINY_SHAPE and model.normalization is not None
    assert not model.generator.training


@pytest.mark.parametrize(("name", "configs", "shape", "iterations"), [
    ("demo", ["demo.json"], (32, 32, 16), 1000),  # the main job's model
    ("demo_3mm", ["demo.json", "demo_3mm.json"], (56, 64, 56), 500),  # the 3 mm grid's, trained on the CPU as far as time allowed
])
def test_shipped_demo_model_loads_and_generates_with_the_recipe_demo_json_states(
        name: str, configs: list[str], shape: tuple[int, int, int], iterations: int) -> None:
    weights = BUNDLE / "models" / f"{name}_model.pt"
    model = load_bundle(BUNDLE, config_file=[CONFIGS / "inference.json", *(CONFIGS / c for c in configs)], model_file=weights)
    fod = model.normalization.denormalize(sample_images(model.generator, 2, seed=0), channel_dim=1)
    assert fod.shape == (2, 28, *shape) and torch.isfinite(fod).all()
    assert model.iteration >= iterations
    # demo.json (which the main job continues the model with) states the recipe the model was trained with
    demo = json.loads((CONFIGS / "demo.json").read_text())
    saved = torch.load(weights, weights_only=True)
    stats = json.loads((BUNDLE / "models" / f"{name}_sh_stats.json").read_text())
    # training with these configs takes this model's statistics (the last config that names a file wins)
    named = [json.loads((CONFIGS / c).read_text()).get("normalization_file") for c in configs]
    assert f"'{name}_sh_stats.json'" in [n for n in named if n][-1]
    assert (saved["normalization"]["mode"], saved["normalization"]["quantile"]) == \
        (demo["normalization_mode"], demo["normalization_quantile"]) == (stats["mode"], stats["quantile"])
    np.testing.assert_allclose(saved["normalization"]["scales"], stats["scales"], rtol=1e-6)
    assert saved.get("l0_output", "tanh") == demo["l0_output"]
    assert (saved["brain_mask"] is not None) == (demo["background"] == "population_mask")
    if demo["l0_output"] == "nonnegative":
        assert fod[:, 0].min() >= 0
    if saved["brain_mask"] is not None:
        assert torch.all(fod[:, :, ~saved["brain_mask"]] == 0)


def test_sigkill_resume_continues_with_identical_losses(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    iterations = {"max_iterations": 10}
    straight = tiny_config(tmp_path / "a", tiny_fod_dataset, tmp_path / "a" / "out", **iterations)
    result = run_bundle(bundle_command("training", [CONFIGS / "train.json", straight]), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    out = tmp_path / "b" / "out"
    killed = tiny_config(tmp_path / "b", tiny_fod_dataset, out, **iterations)
    cmd = bundle_command("training", [CONFIGS / "train.json", killed])
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while not (out / "checkpoints" / "checkpoint_00000004.pt").exists():
        assert proc.poll() is None and time.time() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model.pt").exists()  # really interrupted
    resumed = run_bundle(cmd, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout + resumed.stderr

    a, b = read_losses(tmp_path / "a" / "out" / "losses.jsonl"), read_losses(out / "losses.jsonl")
    assert sorted(b) == sorted(a) == list(range(1, 11))
    for it in range(1, 11):
        assert a[it] == b[it], f"iteration {it} differs after resume"
    final_a = torch.load(tmp_path / "a" / "out" / "model.pt", weights_only=True)["model"]
    final_b = torch.load(out / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_ddp_gloo_two_processes_under_torchrun(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # each rank saves its replicas at the end: DDP must have kept them identical although ranks saw different data
    dump = ["$torch.save({k: getattr(@train#trainer, k).module.state_dict() for k in ('generator', 'critic', 'encoder', "
            "'code_critic')}, os.path.join(@output_dir, f'rank{torch.distributed.get_rank()}.pt'))",
            "$torch.distributed.destroy_process_group()"]
    override = tiny_config(tmp_path, tiny_fod_dataset, out, max_iterations=4, finalize=dump)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    result = run_bundle(bundle_command("training", [CONFIGS / "train.json", CONFIGS / "multi_gpu_train.json", override],
                                       launcher=launcher), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    model = torch.load(out / "model.pt", weights_only=True)
    assert model["trainer"]["iteration"] == 4
    assert not any(k.startswith("module.") for k in model["model"])  # saved unwrapped: loads without DDP
    assert sorted(read_losses(out / "losses.jsonl")) == [1, 2, 3, 4]  # rank 0 logs alone
    assert len((out / "losses.jsonl").read_text().splitlines()) == 4
    rank0, rank1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for net in rank0:
        for k, v in rank0[net].items():
            if "running" not in k and "num_batches" not in k:  # BatchNorm statistics stay per process
                assert torch.equal(v, rank1[net][k]), f"{net}.{k} differs between ranks"


def test_ddp_gloo_two_nodes_under_torchrun(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    """bundle/docs/README.md's multi-node command, with two "nodes" of one CPU process each on this machine: static
    rendezvous at node 0's endpoint, each launcher with its --node_rank; DDP keeps the replicas identical."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    dump = ["$torch.save({k: getattr(@train#trainer, k).module.state_dict() for k in ('generator', 'critic', 'encoder', "
            "'code_critic')}, os.path.join(@output_dir, f'rank{torch.distributed.get_rank()}.pt'))",
            "$torch.distributed.destroy_process_group()"]
    override = tiny_config(tmp_path, tiny_fod_dataset, out, max_iterations=4, finalize=dump)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    nodes = []
    for rank in (0, 1):
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(rank),
                    "--nproc_per_node", "1", "--rdzv_backend", "static", "--rdzv_endpoint", f"127.0.0.1:{port}"]
        cmd = bundle_command("training", [CONFIGS / "train.json", CONFIGS / "multi_gpu_train.json", override], launcher=launcher)
        nodes.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert torch.load(out / "model.pt", weights_only=True)["trainer"]["iteration"] == 4
    assert len((out / "losses.jsonl").read_text().splitlines()) == 4  # global rank 0 logs alone
    # and alone writes TensorBoard: one event file for the losses (MONAI's handler), one for the sample images
    assert len(list((out / "tensorboard").glob("events.out.tfevents.*"))) == 2
    rank0, rank1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for net in rank0:
        for k, v in rank0[net].items():
            if "running" not in k and "num_batches" not in k:
                assert torch.equal(v, rank1[net][k]), f"{net}.{k} differs between the nodes"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (NCCL)")
def test_ddp_nccl_bf16_under_torchrun_on_a_gpu(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    """The multi-GPU config on a GPU: NCCL, bf16, cuDNN benchmark. With DDP's default buffer broadcast the G/E
    backward failed there ('modified by an inplace operation' on a BatchNorm buffer), which gloo on CPUs does not show."""
    out = tmp_path / "out"
    override = tiny_config(tmp_path, tiny_fod_dataset, out, max_iterations=4, precision="bf16", cudnn_benchmark=True)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"]
    result = run_bundle(bundle_command("training", [CONFIGS / "train.json", override, CONFIGS / "multi_gpu_train.json"],
                                       launcher=launcher), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert torch.load(out / "model.pt", weights_only=True)["trainer"]["iteration"] == 4
    losses = read_losses(out / "losses.jsonl")
    assert sorted(losses) == [1, 2, 3, 4]
    assert all(np.isfinite(v) for record in losses.values() for v in record.values())


@pytest.mark.parametrize("problem", ["channels", "nan", "grid", "empty"])
def test_bad_dataset_rejected_before_training(problem: str, tiny_fod_dataset: Path, tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_fod_dataset, data)
    datalist = json.loads((data / "datalist.json").read_text())
    bad = data / "fod" / "sub-0003.nii.gz"
    img = nib.load(bad)
    arr = np.asarray(img.dataobj, dtype=np.float32)
    if problem == "channels":
        nib.save(nib.Nifti1Image(arr[..., :15], img.affine), bad)
        expect = "has 15 SH volumes, the model needs lmax 6"
    elif problem == "nan":
        arr[4, 4, 4, 0] = np.nan
        nib.save(nib.Nifti1Image(arr, img.affine), bad)
        expect = "contains 1 NaN or infinite values"
    elif problem == "grid":
        nib.save(nib.Nifti1Image(arr[:8], img.affine), bad)
        expect = "differs from the training grid"
    else:
        datalist["training"] = []
        expect = "the training list is empty"
    (data / "datalist.json").write_text(json.dumps(datalist))
    out = tmp_path / "out"
    override = tiny_config(tmp_path, data, out)
    result = run_bundle(bundle_command("training", [CONFIGS / "train.json", override]), cwd=tmp_path)
    assert result.returncode != 0
    assert expect in result.stderr
    if problem != "empty":
        assert str(bad) in result.stderr  # the message names the file
    assert not (out / "checkpoints").exists()  # nothing trained, nothing written


def test_mlflow_tracking(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    out = tmp_path / "out"
    override = tiny_config(tmp_path, tiny_fod_dataset, out, max_iterations=2, experiment_name="fod_test")
    result = run_bundle(bundle_command("training", [CONFIGS / "train.json", override], "--tracking", "mlflow"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    experiment = client.get_experiment_by_name("fod_test")
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, "train_loss")
    losses = read_losses(out / "losses.jsonl")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx([losses[1]["loss_ge"], losses[2]["loss_ge"]], rel=1e-6)
