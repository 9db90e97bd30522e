"""The wheel as a user gets it: built with pip, installed into a fresh virtual environment, its bundle copied out
with the package's command and run with MONAI's own CLI from there."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT

#: what `pip wheel .` needs of the repository
SOURCES = ("monai_fodgan", "bundle", "taskgen_bundle", "setup.py", "setup.cfg", "pyproject.toml", "README.md", "LICENSE")


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a copy of the repository (the build writes build/ and egg-info beside its sources)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    (src / "bundle" / "models" / "model.pt").write_bytes(b"a user's own weights")  # must stay out of the wheel
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], cwd=src)
    (found,) = dist.glob("monai_fodgan-*.whl")
    return found


def test_wheel_carries_the_bundle_but_not_user_weights(wheel: Path) -> None:
    from monai_fodgan.bundle_paths import BUNDLES

    names = set(zipfile.ZipFile(wheel).namelist())
    for name, folder in BUNDLES.items():  # the FOD bundle and the DeepTaskGen bundle
        root = f"monai_fodgan/bundles/{name}/"
        tracked = subprocess.run(["git", "ls-files", folder], cwd=REPO_ROOT, capture_output=True, text=True,
                                 check=True).stdout.split()
        assert tracked and {root + p.removeprefix(folder + "/") for p in tracked} <= names  # configs, docs, demo weights
    assert "monai_fodgan/bundles/fodgan/models/model.pt" not in names


def test_installed_wheel_copies_its_bundle_and_runs_inference(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).strip())
    # the shared environment's packages (torch, MONAI, ...) without downloading them again; its .pth files (the
    # editable install of the source tree) are not processed from a path line, so the wheel's package is imported
    (site / "shared_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a source tree on it would shadow the wheel
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="2")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], cwd=tmp_path,
         env=env)

    code = ("import json, monai_fodgan; from monai_fodgan.bundle_paths import source_bundle; "
            "print(json.dumps([monai_fodgan.__file__, str(source_bundle())]))")
    where = json.loads(_run([str(python), "-c", code], cwd=tmp_path, env=env))
    assert all(Path(p).resolve().is_relative_to(venv.resolve()) for p in where)  # the wheel's package and bundle (the demo's)

    copy = tmp_path / "my_bundle"
    _run([str(python), "-m", "monai_fodgan.bundle_copy", str(copy)], cwd=tmp_path, env=env)
    assert (copy / "configs" / "inference.json").is_file() and (copy / "models" / "demo_model.pt").is_file()

    configs = f"['{copy}/configs/inference.json','{copy}/configs/demo.json']"
    work = tmp_path / "run"
    work.mkdir()
    _run([str(python), "-m", "monai.bundle", "run", "inference", "--config_file", configs, "--checkpoint_file",
          str(copy / "models" / "demo_model.pt"), "--work_dir", str(work), "--num_samples", "1"], cwd=work, env=env)
    code = ("from monai.bundle import ConfigWorkflow; import sys; "
            "w = ConfigWorkflow(config_file=sys.argv[1:], workflow_type='inference'); w.initialize(); print(w.bundle_root)")
    root = _run([str(python), "-c", code, f"{copy}/configs/inference.json", f"{copy}/configs/demo.json"], cwd=work, env=env).strip().splitlines()[-1]
    assert Path(root) == copy.resolve()  # the copy reads its own files, not the installed or the source bundle

    from monai_fodgan.inference import FODSynthesizer, latent_codes
    from monai_fodgan.networks import FODGenerator, alpha_wgan_arguments

    net = FODSynthesizer(FODGenerator(**alpha_wgan_arguments("demo", (32, 32, 16))["generator"]),
                         REPO_ROOT / "bundle" / "models" / "demo_model.pt")
    with torch.no_grad():
        expected = net(latent_codes(1, 64, seed=0))[0].numpy()
    written = np.moveaxis(np.asarray(nib.load(work / "synthetic" / "sub-synth0001.nii.gz").dataobj), -1, 0)
    assert np.linalg.norm(written - expected) / np.linalg.norm(expected) < 1e-5


def test_constraints_pin_every_requirement_within_its_bounds() -> None:
    """constraints.txt (what CI installs) pins each requirement of setup.cfg to a version its bounds allow."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / "setup.cfg")
    requirements = [line.strip() for key in (("options", "install_requires"), ("options.extras_require", "test"))
                    for line in cfg.get(*key).splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(requirements) > 20
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = Version(version)
    for text in requirements:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pinned, prereleases=True), f"{requirement.name}=={pinned} outside {requirement}"
    assert pins[canonicalize_name("torch")] == Version("2.13.0")
