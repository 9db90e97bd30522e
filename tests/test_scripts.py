"""The tutorials, the demo and the benchmark run as a user would run them, in subprocesses."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import REPO_ROOT, REQUIRE, SHARED_DATA

TUTORIALS = sorted((REPO_ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


def _run(args: list[str], cwd: Path, timeout: int = 600) -> str:
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs_and_writes_figures(tutorial: Path, tmp_path: Path) -> None:
    _run([str(tutorial), str(tmp_path)], cwd=tmp_path)
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.stat().st_size > 10_000 for p in pngs)


#: the main job's grid in this test (None: demo.json's, the shipped model's 32 x 32 x 16, which the main job continues);
#: the 3 mm grid's phantom, preparation and tract recovery run at full size in tests/evaluation/test_truth_recovery.py
MAIN_JOB_GRID: list[int] | None = None


@pytest.fixture(scope="module")
def main_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A fresh clone after the main job: ``bundle/`` (configs copied, the shipped models linked), ``scripts/`` and
    ``.venv`` linked, and ``demo_output/`` written by the demo (what ``scripts/run_demo.sh`` runs) with 8 subjects,
    2 training iterations and a quick evaluation, and the DeepTaskGen step with 48 subjects (8 held out). Returns
    (clone, the demo's output)."""
    clone = tmp_path_factory.mktemp("clone")
    for name in ("bundle", "taskgen_bundle"):
        (clone / name).mkdir()
        shutil.copytree(REPO_ROOT / name / "configs", clone / name / "configs")
        (clone / name / "models").symlink_to(REPO_ROOT / name / "models")
    shutil.copytree(REPO_ROOT / "bundle" / "docs", clone / "bundle" / "docs")  # the metadata schema
    if MAIN_JOB_GRID is not None:  # the clone's demo grid, as a user would override it
        demo_json = clone / "bundle" / "configs" / "demo.json"
        demo_json.write_text(json.dumps(json.loads(demo_json.read_text()) | {"spatial_shape": MAIN_JOB_GRID}, indent=4))
    (clone / "scripts").symlink_to(REPO_ROOT / "scripts")
    (clone / ".venv").symlink_to(Path(sys.prefix))
    stdout = _run(["-m", "monai_fodgan.demo", "--out", "demo_output", "--subjects", "8", "--iterations", "2", "--samples", "3",
                   "--eval-streamlines", "1000", "--eval-tract-streamlines", "50", "--taskgen-subjects", "48"],
                  cwd=clone, timeout=1200)
    return clone, stdout


def _demo_grid(clone: Path) -> list[int]:
    return json.loads((clone / "bundle" / "configs" / "demo.json").read_text())["spatial_shape"]


def test_demo_trains_from_the_shipped_model_and_generates(main_job: tuple[Path, str]) -> None:
    import torch

    from monai_fodgan.io import load_fod

    clone, stdout = main_job
    demo = clone / "demo_output"
    assert "demo finished" in stdout and "Evaluation report: " + str(demo / "evaluation" / "report.html") in stdout
    shipped = torch.load(REPO_ROOT / "bundle" / "models" / "demo_checkpoint.pt", weights_only=True)
    trained = torch.load(demo / "training" / "model.pt", weights_only=True)
    grid = _demo_grid(clone)
    if list(shipped["grid"]["spatial_shape"]) == grid:
        assert trained["trainer"]["iteration"] == shipped["trainer"]["iteration"] + 2  # continued, not restarted
    else:  # a shipped model of another grid cannot be continued: the demo says so and starts from scratch
        assert "FROM SCRATCH" in stdout and trained["trainer"]["iteration"] == 2
    synthetic = sorted((demo / "synthetic").glob("sub-synth*.nii.gz"))
    assert [p.name for p in synthetic] == ["sub-synth0001.nii.gz", "sub-synth0002.nii.gz", "sub-synth0003.nii.gz"]
    for path in synthetic + sorted((demo / "augmented").glob("*.nii.gz")):
        assert load_fod(path).shape == (28, *grid)
    if json.loads((clone / "bundle" / "configs" / "demo.json").read_text()).get("isotropic_crop"):
        spacing = nib.load(str(synthetic[0])).header.get_zooms()[:3]
        np.testing.assert_allclose(spacing, spacing[0], rtol=1e-5)  # the cohort crop keeps the voxels isotropic
    for figure in ("prepared_slices.png", "synthetic_slices.png"):
        assert (demo / figure).stat().st_size > 10_000
    # the evaluation of the generated subjects against the validation subjects, computed from them
    metrics = json.loads((demo / "evaluation" / "metrics.json").read_text())
    assert metrics["sets"]["synthetic"] == ["sub-synth0001", "sub-synth0002", "sub-synth0003"]
    assert len(metrics["sets"]["reference"]) == 2 and not metrics["failed"]
    assert len(metrics["fod"]["squared_differences"]["synthetic"]["values"]) == 3
    assert metrics["verdict"]["checks"] and (demo / "evaluation" / "report.html").stat().st_size > 100_000


def test_demo_runs_the_taskgen_bundle_from_its_shipped_model(main_job: tuple[Path, str]) -> None:
    import torch

    clone, stdout = main_job
    taskgen = clone / "demo_output" / "taskgen"
    shipped = torch.load(REPO_ROOT / "taskgen_bundle" / "models" / "demo_model.pt", weights_only=True)
    trained = torch.load(taskgen / "training" / "model.pt", weights_only=True)
    assert (trained["preset"], trained["in_channels"], trained["out_channels"]) == ("demo", 12, 6)
    assert not torch.equal(trained["model"]["out.weight"], shipped["model"]["out.weight"])  # trained on from it
    assert len((taskgen / "training" / "val_loss.jsonl").read_text().splitlines()) == 2  # 2 epochs
    metrics = json.loads((taskgen / "evaluation" / "metrics.json").read_text())
    assert metrics["subjects"] == [f"sub-{k:04d}" for k in range(41, 49)]  # never seen by the shipped model
    assert sorted(p.name for p in (taskgen / "predictions").glob("*.nii.gz")) == [f"sub-{k:04d}_pred.nii.gz" for k in range(41, 49)]
    assert (taskgen / "evaluation" / "report.html").stat().st_size > 50_000 and metrics["verdict"]["summary"] in stdout


def test_demo_log_reads_as_steps_with_their_own_durations(main_job: tuple[Path, str]) -> None:
    _, stdout = main_job
    for k in range(1, 7):
        assert f"[{k}/6] " in stdout and f"(step {k}: " in stdout
    commands = [line.strip()[2:] for line in stdout.splitlines() if line.strip().startswith("$ python -m monai.bundle")]
    assert len(commands) == 6
    for command in commands[:3]:  # as one would type them: the config list in double quotes, paths relative
        assert "--config_file \"['" in command and "'\"'\"'" not in command and " --work_dir demo_output" in command
    # one resume message, ours, with the real position; not Ignite's "resuming from iteration 0"
    assert "Engine run resuming from iteration 0" not in stdout
    if "FROM SCRATCH" not in stdout:
        assert "resumed from " in stdout and "demo_checkpoint.pt at iteration" in stdout


def test_benchmark_prints_ratio(tmp_path: Path) -> None:
    stdout = _run([str(REPO_ROOT / "benchmarks" / "bench_transforms.py"), "--size", "32", "32", "16", "--repeats", "1"], cwd=tmp_path)
    assert "SHRotate  in memory" in stdout
    if "mrtransform not installed" not in stdout:
        assert "ratio mrtransform / SHRotate" in stdout



# -- every command of README.md and bundle/docs/README.md, run in the clone after the main job -------------------------

READMES = (REPO_ROOT / "README.md", REPO_ROOT / "bundle" / "docs" / "README.md", REPO_ROOT / "taskgen_bundle" / "docs" / "README.md")
TASKGEN_QUICK_TRAIN = "--max_epochs 1 --num_workers 0 --device cpu"
QUICK_EVAL = ("--streamlines 200000", "--streamlines 1000 --tract-streamlines 50 --tract-seeds 20")  # the main job's: cached
QUICK_TRAIN = ["--preset", "demo", "--spatial_shape", "[32,32,16]", "--num_workers", "0", "--batch_size", "2",
               "--max_iterations", "2", "--epoch_length", "2"]


def readme_commands(kind: str = "bash") -> list[str]:
    """The commands (``bash`` blocks, continuation lines joined, comments dropped) or snippets (``python``) of both
    READMEs, in order, each once."""
    found: list[str] = []
    for path in READMES:
        for block in re.findall(rf"```{kind}\n(.*?)```", path.read_text(), re.S):
            if kind == "python":
                found.append(block)
                continue
            for line in block.replace("\\\n", " ").splitlines():
                command = " ".join(re.sub(r"\s+#.*$", "", line).split())
                if command and command not in found:
                    found.append(command)
    return found


#: README command -> (replacements that only shorten it, or None with the reason it does not run here), in run order
COMMANDS: dict[str, tuple[list[tuple[str, str]] | None, str]] = {
    "bash scripts/run_demo.sh": (None, "the main job: main_job runs what it execs, python -m monai_fodgan.demo, with 8 subjects"),
    "bash scripts/run_tests.sh": (None, "this test suite"),
    "torchrun --nproc_per_node 8 -m monai.bundle run training --config_file \"['bundle/configs/train.json','bundle/configs/multi_gpu_train.json']\" --dataset_dir dataset":
        (None, "8 GPUs; the same configs run under torchrun with 2 CPU processes in tests/bundle/test_bundle.py::test_ddp_gloo_two_processes_under_torchrun"),
    "python -m monai_fodgan.evaluate --synthetic demo_output/synthetic --reference demo_output/dataset/datalist.json --training demo_output/dataset/datalist.json --out demo_output/evaluation --template phantom --truth demo_output/phantom --streamlines 200000 --jobs 2":
        ([QUICK_EVAL], ""),
    "python -m monai.bundle run evaluate --config_file \"['bundle/configs/evaluate.json','bundle/configs/demo.json']\" --template phantom --truth demo_output/phantom --streamlines 200000 --jobs 2":
        ([QUICK_EVAL], ""),
    "python -m monai_fodgan.prepare --bids demo_output/phantom --out dataset --jobs 2 --val 4":
        ([("--val 4", "--val 4 --shape 32 32 16")], ""),
    "python -m monai_fodgan.prepare --dwi data.nii.gz --bval bvals --bvec bvecs --mask nodif_brain_mask.nii.gz --out one_subject": ([], ""),
    "python -m monai_fodgan.prepare --table subjects.csv --out cohort --jobs 4 --val 100":
        ([("--val 100", "--val 100 --shape 32 32 16")], ""),
    "python -m monai_fodgan.prepare --fod wm.mif --out ready_fods": ([], ""),
    "python -m monai.bundle run training --config_file bundle/configs/train.json --dataset_dir dataset":
        ([("--dataset_dir dataset", "--dataset_dir dataset " + shlex.join(QUICK_TRAIN))], ""),
    "python -m monai.bundle run inference --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --num_samples 100":
        ([("--num_samples 100", "--num_samples 2")], ""),
    "python -m monai.bundle run inference --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --num_samples 100 --seed 0":
        ([("--num_samples 100", "--num_samples 2")], ""),
    "python -m monai.bundle run inference --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --mode reconstruct": ([], ""),
    "python -m monai.bundle run inference --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --mode interpolate": ([], ""),
    "bash scripts/train_demo_model.sh demo_model_work 2000 32": ([("2000 32", "2 4")], ""),  # 2 iterations on 4 subjects
    "python -m monai.bundle verify_metadata --meta_file bundle/configs/metadata.json --filepath bundle/docs/meta_schema.json": ([], ""),
    "python -m monai.bundle verify_net_in_out export_network_def --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --meta_file bundle/configs/metadata.json --_meta_#network_data_format#inputs#image#num_channels 64":
        ([], ""),
    "python -m monai.bundle ckpt_export export_network_def --bundle_root bundle --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --ckpt_file bundle/models/demo_model.pt --filepath fodgan_demo.ts":
        ([], ""),
    "python -m monai.bundle onnx_export export_network_def --bundle_root bundle --config_file \"['bundle/configs/inference.json','bundle/configs/demo.json']\" --meta_file bundle/configs/metadata.json --_meta_#network_data_format#inputs#image#num_channels 64 --ckpt_file bundle/models/demo_model.pt --filepath fodgan_demo.onnx":
        ([], ""),
    "python -m monai_fodgan.bundle_copy my_bundle": ([], ""),
    "python -m monai_fodgan.ablation --dataset demo_output/dataset --out ablation --truth demo_output/phantom --iterations 300":
        (None, "hours of training on 2 cores; tests/test_ablation.py runs the same command at tiny size"),
    "dask scheduler --port 8786": (None, "a server that runs until stopped; tests/conftest.py::dask_cluster starts a real one"),
    "dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1": (None, "a server on a worker node; see dask_cluster"),
    "python -m monai_fodgan.prepare --table subjects.csv --out cohort --scheduler tcp://HOST:8786 --val 100":
        (None, "needs the scheduler above; the same command runs on a LocalCluster in tests/prepare/test_dask.py"),
    "python -m monai.bundle run evaluate --config_file \"['bundle/configs/evaluate.json','bundle/configs/demo.json']\" --scheduler tcp://HOST:8786":
        (None, "needs the scheduler above; the bundle's evaluate runs on a LocalCluster in tests/bundle/test_evaluate_bundle.py"),
    "torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --rdzv_backend static --rdzv_endpoint node0:29500 -m monai.bundle run training --config_file \"['bundle/configs/train.json','bundle/configs/multi_gpu_train.json']\" --dataset_dir dataset":
        (None, "two nodes of 8 GPUs; two 'nodes' of one CPU process each rendezvous on loopback in "
               "tests/bundle/test_bundle.py::test_ddp_gloo_two_nodes_under_torchrun"),
    # DeepTaskGen (taskgen_bundle/docs/README.md): the main job's held-out subjects, then a cohort of one's own
    "python -m monai.bundle run inference --config_file \"['taskgen_bundle/configs/inference.json','taskgen_bundle/configs/demo.json']\" --split validation --checkpoint_file taskgen_bundle/models/demo_model.pt":
        ([], ""),
    "python -m monai.bundle run evaluate --config_file \"['taskgen_bundle/configs/evaluate.json','taskgen_bundle/configs/demo.json']\"":
        ([], ""),
    "python -m monai_fodgan.taskgen.demo_population --out pop --n 40": ([("--n 40", "--n 10")], ""),
    "python -m monai_fodgan.taskgen.prepare --table pop/subjects.tsv --components pop/group/components.nii.gz --mask pop/group/brain_mask.nii.gz --gm-mask pop/group/gm_mask.nii.gz --window 60 --val 0.25 --out prep":
        ([("--val 0.25", "--val 5")], ""),  # 5 held out: the evaluation's 5-fold phenotype prediction needs them
    "python -m monai.bundle run training --config_file taskgen_bundle/configs/train.json --dataset_dir prep --preset demo --in_channels 12 --out_channels 6 --max_epochs 20":
        ([("--max_epochs 20", TASKGEN_QUICK_TRAIN)], ""),
    "python -m monai.bundle run inference --config_file taskgen_bundle/configs/inference.json --dataset_dir prep --preset demo --in_channels 12 --out_channels 6 --split validation":
        ([("--split validation", "--split validation --device cpu")], ""),
    "python -m monai.bundle run evaluate --config_file taskgen_bundle/configs/evaluate.json --dataset_dir prep --participants pop/participants.tsv":
        ([], ""),
    "python -m monai.bundle run training --config_file \"['taskgen_bundle/configs/train.json','taskgen_bundle/configs/finetune.json']\" --dataset_dir new_cohort --init_checkpoint taskgen_output/training/model.pt --finetune_contrasts \"[0]\" --max_epochs 20":
        (None, "needs a cohort with one contrast; the same configs fine-tune in tests/taskgen/test_bundle.py::test_finetuning_trains_only_the_last_layer"),
}


def test_every_readme_command_is_covered() -> None:
    assert readme_commands() and set(readme_commands()) == set(COMMANDS), (
        "README commands without a test here: " + repr(sorted(set(readme_commands()) - set(COMMANDS)))
        + "; tested commands no longer in a README: " + repr(sorted(set(COMMANDS) - set(readme_commands()))))


def _user_files(clone: Path) -> None:
    """The files the README's prepare commands name as the user's own: one phantom subject's DWI under the README's
    names, a subjects table, and MRtrix3's real lmax-8 WM FOD (15 x 15 x 11, 2.5 mm voxels) as wm.mif."""
    sub = clone / "demo_output" / "phantom" / "sub-0001" / "dwi"
    for name, source in (("data.nii.gz", "sub-0001_dwi.nii.gz"), ("bvals", "sub-0001_dwi.bval"),
                         ("bvecs", "sub-0001_dwi.bvec"), ("nodif_brain_mask.nii.gz", "sub-0001_mask.nii.gz")):
        if not (clone / name).exists():
            (clone / name).symlink_to(sub / source)
    rows = ["subject,dwi,bval,bvec,mask,fod"]
    for k in (2, 3):
        d = clone / "demo_output" / "phantom" / f"sub-{k:04d}" / "dwi"
        rows.append(f"sub-{k:04d},{d}/sub-{k:04d}_dwi.nii.gz,{d}/sub-{k:04d}_dwi.bval,{d}/sub-{k:04d}_dwi.bvec,"
                    f"{d}/sub-{k:04d}_mask.nii.gz,")
    (clone / "subjects.csv").write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("command", list(COMMANDS), ids=lambda c: " ".join(c.split()[:6])[:60])
def test_readme_command_runs_as_written(command: str, main_job: tuple[Path, str]) -> None:
    replacements, reason = COMMANDS[command]
    if replacements is None:
        pytest.skip(reason)
    clone, _ = main_job
    _user_files(clone)
    if "wm.mif" in command:
        if not (SHARED_DATA / "msmt_wm.mif").is_file() or shutil.which("mrconvert") is None:
            if REQUIRE:
                pytest.fail("MRtrix3 and the real test data are required (MONAI_FODGAN_REQUIRE_MRTRIX=1)")
            pytest.skip("needs MRtrix3 and the real test data (wm.mif)")
        if not (clone / "wm.mif").exists():
            (clone / "wm.mif").symlink_to(SHARED_DATA / "msmt_wm.mif")
    quick = command
    for old, new in replacements:
        assert old in quick
        quick = quick.replace(old, new, 1)
    args = shlex.split(quick)
    args = [sys.executable, *args[1:]] if args[0] == "python" else args
    models = [*(REPO_ROOT / "bundle" / "models").glob("*"), *(REPO_ROOT / "taskgen_bundle" / "models").glob("*")]
    shipped = {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in models if p.is_file()}
    before = _synthetic_subject(clone)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(args, cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{quick}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    output = proc.stdout + proc.stderr
    assert "Engine run resuming from iteration 0" not in output and "Traceback" not in output
    assert {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in models if p.is_file()} == shipped  # nothing shipped overwritten
    _check_outcome(quick, clone, output, before)


def _synthetic_subject(clone: Path) -> np.ndarray | None:
    path = clone / "demo_output" / "synthetic" / "sub-synth0001.nii.gz"
    return np.asarray(nib.load(path).dataobj) if path.is_file() else None


def _check_outcome(command: str, clone: Path, output: str, before: np.ndarray | None) -> None:
    """What each command (as run) should have produced, where a user would look for it."""
    if "taskgen" in command:
        _check_taskgen_outcome(command, clone)
    elif "monai_fodgan.prepare" in command:
        out = clone / command.split("--out ")[1].split()[0]
        summary = json.loads((out / "summary.json").read_text())
        assert not summary["failed"] and (out / "datalist.json").is_file()
        if "--shape" not in command:  # the default 128 x 128 x 64 grid resamples these sources by more than 2x
            assert summary["resampling_warnings"] and "warning: " in output
    elif "run training" in command:
        assert (clone / "fodgan_output" / "training" / "model.pt").is_file()
        assert (clone / "fodgan_output" / "training" / "checkpoints").is_dir()
        assert "training starts at iteration 0" in output
    elif "--num_samples" in command:  # the main job's model and seed: its first subject again, not the shipped model's
        assert before is not None
        np.testing.assert_array_equal(_synthetic_subject(clone), before)
    elif "--mode" in command:
        listing = json.loads((clone / "demo_output" / "synthetic" / "synthetic.json").read_text())["synthetic"]
        assert listing and all((clone / "demo_output" / "synthetic" / e["image"]).is_file() for e in listing)
    elif "verify_" in command:
        assert "verified with no error" in output
    elif "ckpt_export" in command or "onnx_export" in command:  # the exported demo generator runs on a code
        import torch

        path = clone / command.split("--filepath ")[1].split()[0]
        z = torch.zeros(1, 64)
        if path.suffix == ".ts":
            out = torch.jit.load(str(path))(z)
        else:
            import onnxruntime

            session = onnxruntime.InferenceSession(str(path))
            out = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: z.numpy()})[0])
        assert out.shape == (1, 28, 32, 32, 16) and torch.isfinite(out).all()
    elif "bundle_copy" in command:
        copy = clone / command.split()[-1]
        assert (copy / "configs" / "inference.json").is_file() and (copy / "models" / "demo_model.pt").is_file()
    elif "evaluate" in command:
        metrics = json.loads((clone / "demo_output" / "evaluation" / "metrics.json").read_text())
        assert metrics["verdict"]["checks"] and metrics["config"]["truth"]
    elif "train_demo_model.sh" in command:
        assert (clone / "demo_model_work" / "training" / "model.pt").is_file() and "unchanged" in output


def _check_taskgen_outcome(command: str, clone: Path) -> None:
    """The DeepTaskGen commands: the main job's folder (demo.json) or ./taskgen_output and the user's pop/, prep/."""
    work = clone / ("demo_output/taskgen" if "demo.json" in command else "taskgen_output")
    if "demo_population" in command:
        assert len((clone / "pop" / "subjects.tsv").read_text().splitlines()) == 11
    elif "taskgen.prepare" in command:
        assert len(json.loads((clone / "prep" / "datalist.json").read_text())["validation"]) == 5
    elif "run training" in command:
        assert (work / "training" / "model.pt").is_file() and (work / "training" / "val_loss.jsonl").is_file()
    elif "run inference" in command:
        held_out = json.loads(((work / "dataset") if "demo.json" in command else clone / "prep").joinpath("datalist.json").read_text())["validation"]
        assert {f"{e['subject']}_pred.nii.gz" for e in held_out} <= {p.name for p in (work / "predictions").iterdir()}
    elif "run evaluate" in command:
        metrics = json.loads((work / "evaluation" / "metrics.json").read_text())
        assert metrics["verdict"]["checks"] and "phenotype_r2" in metrics and (work / "evaluation" / "report.html").is_file()


@pytest.mark.parametrize("snippet", readme_commands("python"), ids=lambda s: s.split("\n")[1][:40])
def test_readme_python_snippets_run(snippet: str, main_job: tuple[Path, str]) -> None:
    clone, _ = main_job
    if "dask_jobqueue" in snippet:
        pytest.skip("submits SLURM jobs (sbatch); the Dask path it drives runs on a LocalCluster in tests/prepare/test_dask.py")
    if "wm.mif" in snippet and not (clone / "wm.mif").exists():
        if not (SHARED_DATA / "msmt_wm.mif").is_file():
            pytest.skip("needs the real test data (wm.mif)")
        (clone / "wm.mif").symlink_to(SHARED_DATA / "msmt_wm.mif")
    _run(["-c", snippet], cwd=clone)
