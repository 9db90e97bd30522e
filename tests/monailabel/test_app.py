"""The MONAI Label app against a real ``monailabel`` 0.8.5 server, with the commands of monailabel_app/README.md.

The set-up script builds the app's own virtual environment (reused when present); the server runs from it on a
free loopback port in its own process group, serving a small prepared cohort on the demo grid. One synthesis
(compared with the bundle's own ``run inference`` for the same seed), one code given as ``latent``, and one
2-iteration training (continued from the shipped demo checkpoint, all four networks) go through its REST API; the
files they write are checked, then the process group is killed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT

APP = REPO_ROOT / "monailabel_app"
VENV = REPO_ROOT / ".venv-monailabel"
SHAPE = (32, 32, 16)  # the demo model's grid
README_STUDIES, README_WORK, README_PORT = "demo_output/dataset/fod", "demo_output/monailabel", "8000"


def _app_settings():
    """monailabel_app/lib/settings.py (imports nothing of monailabel): where the app's weights are."""
    spec = importlib.util.spec_from_file_location("fodgan_app_settings", APP / "lib" / "settings.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def readme_commands() -> list[str]:
    """The bash commands of monailabel_app/README.md (continuation lines joined), in order."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", (APP / "README.md").read_text(), re.DOTALL):
        found += [" ".join(line.split()) for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return found


def _command(start: str) -> str:
    matches = [c for c in readme_commands() if c.startswith(start)]
    assert len(matches) == 1, f"monailabel_app/README.md should show one command starting {start!r}: {matches}"
    return matches[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def venv() -> Path:
    """The README's set-up command, run as written (creates .venv-monailabel, or checks it)."""
    command = _command("bash scripts/setup_monailabel_env.sh")
    proc = subprocess.run(shlex.split(command), check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert _command("source ") == "source .venv-monailabel/bin/activate"
    return VENV


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared cohort on the demo grid, as ``monai_fodgan.prepare`` lays it out: 2 training and 1 validation
    phantom subjects (ground-truth FODs) in ``fod/``, ``datalist.json``."""
    from monai_fodgan.data.phantom import make_subject
    from monai_fodgan.io import save_nifti

    folder = tmp_path_factory.mktemp("cohort")
    entries = []
    for i in range(3):
        subject = make_subject(i, shape=SHAPE, seed=7)
        name = f"sub-{i + 1:04d}"
        save_nifti(subject.fod.transpose(3, 0, 1, 2), subject.affine, folder / "fod" / f"{name}.nii.gz")
        entries.append({"image": f"fod/{name}.nii.gz", "subject": name})
    (folder / "datalist.json").write_text(json.dumps({"lmax": 6, "training": entries[:2], "validation": entries[2:]}))
    return folder


class Server:
    """A running ``monailabel start_server`` (the README's command with this test's folders and port)."""

    def __init__(self, venv: Path, studies: Path, work: Path, log: Path) -> None:
        self.port = str(_free_port())
        self.work = work
        command = _command("monailabel start_server").replace(README_STUDIES, str(studies)).replace(
            README_WORK, str(work)).replace(f"--port {README_PORT}", f"--port {self.port}")
        env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
               "PYTHONPATH": str(REPO_ROOT), "MONAI_FODGAN_BUNDLE_ROOT": ""}
        self.log = log.open("w")
        self.proc = subprocess.Popen(shlex.split(command), cwd=REPO_ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def readme(self, start: str) -> str:
        """The README's command starting with ``start``, pointed at this server."""
        return _command(start).replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{self.port}")

    def wait(self, timeout: float = 180) -> dict:
        """Wait for ``/info/``; the server's log is shown when it dies or never answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/info/", timeout=5) as r:
                    return json.load(r)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(1)
        raise AssertionError(f"no answer from {self.url}/info/ in {timeout} s:\n{self.tail()}")

    def output(self) -> str:
        """Everything the server (and its tasks) logged so far."""
        self.log.flush()
        return Path(self.log.name).read_text()

    def tail(self) -> str:
        return self.output()[-5000:]

    def stop(self) -> None:
        """Kill the server's process group (uvicorn, and a training task's processes with it)."""
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


@pytest.fixture(scope="module")
def server(venv: Path, cohort: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("monailabel")
    srv = Server(venv, cohort / "fod", root / "work", root / "server.log")
    srv.cohort = cohort
    try:
        srv.info = srv.wait()
        yield srv
    finally:
        srv.stop()
    with pytest.raises(ProcessLookupError):  # nothing of the group is left
        os.killpg(srv.proc.pid, 0)


def _curl(command: str, cwd: Path) -> str:
    proc = subprocess.run(shlex.split(command), check=False, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_info_lists_both_tasks(server: Server, tmp_path: Path) -> None:
    info = json.loads(_curl(server.readme("curl -s http://127.0.0.1:8000/info/"), tmp_path))
    assert info["models"]["fod_synthesis"]["config"]["seed"] == 0
    assert "fod_training" in info["trainers"]


def test_synthesis_writes_the_bundles_subjects_on_the_training_grid(server: Server, tmp_path: Path) -> None:
    from monai_fodgan.io import load_fod

    _curl(server.readme("curl -s -X POST \"http://127.0.0.1:8000/infer/fod_synthesis"), tmp_path)
    written = server.work / "synthetic" / "seed-0"
    names = [e["image"] for e in json.loads((written / "synthetic.json").read_text())["synthetic"]]
    assert names == ["sub-synth0001.nii.gz", "sub-synth0002.nii.gz"]
    returned = load_fod(tmp_path / "sub-synth0001.nii.gz")  # the response: the first subject
    assert returned.shape == (28, *SHAPE) and torch.isfinite(returned).all()
    weights = _app_settings().DEMO_WEIGHTS
    grid = torch.load(REPO_ROOT / "bundle" / weights, weights_only=True)["grid"]
    np.testing.assert_allclose(returned.affine.numpy(), grid["affine"].numpy(), atol=1e-6)
    # the same subjects as the bundle's own inference (MONAI's CLI, our .venv) writes for this seed
    bundle_out = tmp_path / "bundle_run"
    configs = "['bundle/configs/inference.json','bundle/configs/demo.json']"
    proc = subprocess.run([sys.executable, "-m", "monai.bundle", "run", "inference", "--config_file", configs,
                           "--checkpoint_file", str(REPO_ROOT / "bundle" / weights), "--work_dir", str(bundle_out),
                           "--num_samples", "2", "--seed", "0"], check=False, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in names:
        reference = load_fod(bundle_out / "synthetic" / name)
        served = load_fod(written / name)
        torch.testing.assert_close(served.as_tensor(), reference.as_tensor(), atol=1e-5 * float(reference.abs().max()),
                                   rtol=0)
        assert float(reference.abs().max()) > 0
    torch.testing.assert_close(returned.as_tensor(), load_fod(written / names[0]).as_tensor())


def _infer_json(server: Server, params: dict) -> dict:
    """POST /infer/fod_synthesis with ``params`` as the form field MONAI Label reads; the JSON answer."""
    body = ("--b\r\nContent-Disposition: form-data; name=\"params\"\r\n\r\n" + json.dumps(params) + "\r\n--b--\r\n").encode()
    request = urllib.request.Request(f"{server.url}/infer/fod_synthesis?image=synthesis&output=json", data=body,
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})
    with urllib.request.urlopen(request, timeout=120) as r:
        return json.load(r)


def test_a_given_latent_code_gives_the_subject_of_that_code(server: Server) -> None:
    from monai_fodgan.inference import latent_codes
    from monai_fodgan.io import load_fod

    latent_size = torch.load(REPO_ROOT / "bundle" / _app_settings().DEMO_WEIGHTS, weights_only=True)["hyperparameters"]["latent_size"]
    seeded = _infer_json(server, {"seed": 5, "num_samples": 2})
    given = _infer_json(server, {"latent": latent_codes(2, latent_size, seed=5)[1].tolist()})  # subject 2 of seed 5
    assert given["latent_size"] == latent_size and len(given["files"]) == 1 and len(seeded["files"]) == 2
    torch.testing.assert_close(load_fod(given["files"][0]).as_tensor(), load_fod(seeded["files"][1]).as_tensor())
    assert not torch.equal(load_fod(seeded["files"][0]).as_tensor(), load_fod(seeded["files"][1]).as_tensor())


@pytest.mark.parametrize(("params", "named"), [({"latent": [0.5, 1.0]}, "latent"), ({"num_samples": 0}, "num_samples"),
                                               ({"seed": "one"}, "seed"), ({"bn": "frozen"}, "bn")],
                         ids=["short latent", "no samples", "seed not a number", "unknown bn"])
def test_bad_parameters_are_refused_with_the_reason(server: Server, params: dict, named: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _infer_json(server, params)
    assert refused.value.code == 422 and named in json.load(refused.value)["detail"]


def test_training_continues_all_four_networks_and_validates(server: Server, tmp_path: Path) -> None:
    from monai_fodgan.engines.checkpoint import load_checkpoint

    submitted = json.loads(_curl(server.readme("curl -s -X POST http://127.0.0.1:8000/train/fod_training"), tmp_path))
    assert submitted["request"]["iterations"] == 2
    deadline = time.monotonic() + 400
    while True:
        status = json.loads(_curl(server.readme("curl -s http://127.0.0.1:8000/train/"), tmp_path))
        if status["status"] not in ("SUBMITTED", "RUNNING") or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert status["status"] == "DONE", json.dumps(status, indent=1) + server.tail()
    shipped = load_checkpoint(REPO_ROOT / "bundle" / "models" / "demo_checkpoint.pt")
    start = shipped["trainer"]["iteration"]
    assert f"resumed from {REPO_ROOT / 'bundle' / 'models' / 'demo_checkpoint.pt'} at iteration {start}" in server.output()
    training = server.work / "training"
    trained = load_checkpoint(training / "checkpoints" / f"checkpoint_{start + 2:08d}.pt")
    assert trained["trainer"]["iteration"] == start + 2
    for key in ("model", "critic", "encoder", "code_critic"):  # restored, then trained: near, not equal
        old, new = shipped[key], trained[key]
        weights = [k for k in old if old[k].is_floating_point() and "running" not in k]
        change = sum(float((new[k] - old[k]).norm() ** 2) for k in weights) ** 0.5
        size = sum(float(old[k].norm() ** 2) for k in weights) ** 0.5
        assert 0 < change < 0.05 * size, f"{key}: relative change {change / size:.3g} (a fresh network: about 1)"
    h = shipped["hyperparameters"]  # Adam's step counts went on from the shipped ones: 2 iterations' worth of steps
    for opt, per_iteration in (("g_optimizer", h["generator_steps"]), ("d_optimizer", h["n_critic"]),
                               ("e_optimizer", h["encoder_steps"]), ("cd_optimizer", 1)):
        before = {float(s["step"]) for s in shipped[opt]["state"].values()}
        after = {float(s["step"]) for s in trained[opt]["state"].values()}
        assert after == {b + 2 * per_iteration for b in before} and min(before) > 0, (opt, before, after)
    model = torch.load(training / "model.pt", weights_only=True)
    assert model["trainer"]["iteration"] == start + 2 and {"model", "encoder", "grid"} <= set(model)
    key, value = (training / "validation" / "metrics.csv").read_text().split()[0].split(",")
    assert key == "val_recon_l1"
    # the validation section measured mean |G(E(x)) - x| of the validation subject with the final networks
    assert float(value) == pytest.approx(_reconstruction_l1(training / "model.pt", server.cohort), rel=1e-4)


def _reconstruction_l1(model_file: Path, cohort: Path) -> float:
    """mean |G(E(x)) - x| (normalised units) of the cohort's validation subjects, computed here from the weights:
    E in eval mode, G with standing statistics of prior samples (as the bundle's inference samples)."""
    from monai_fodgan.inference import encode, load_weights, standing_statistics
    from monai_fodgan.networks import FODEncoder, FODGenerator, alpha_wgan_arguments
    from monai_fodgan.transforms import LoadFODd, NormalizeSHd

    args = alpha_wgan_arguments("demo", SHAPE, 28)
    model = load_weights(model_file, FODGenerator(**args["generator"]), FODEncoder(**args["encoder"]))
    subjects = json.loads((cohort / "datalist.json").read_text())["validation"]
    x = torch.stack([NormalizeSHd("image", model.normalization)(LoadFODd("image", lmax=6, truncate=True)(
        {"image": str(cohort / s["image"])}))["image"].as_tensor().float() for s in subjects])
    with torch.no_grad(), standing_statistics(model.generator) as g:
        return float((g(encode(model.encoder, x)) - x).abs().mean())
