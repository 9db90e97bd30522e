"""Shared fixtures: the real MRtrix3 test data (read in place from ../shared/data) and MRtrix3 itself.

Tests that need them skip with a reason when they are absent, except where the environment variable
MONAI_FODGAN_REQUIRE_MRTRIX=1 is set (CI sets it): there a missing MRtrix3, missing data or (for the report
test) missing Chromium fails the test, so the comparisons against MRtrix3 can never silently stop running.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from monai_fodgan.mrtrix import run_mrtrix

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "mrtrix_test_data"
REQUIRE = os.environ.get("MONAI_FODGAN_REQUIRE_MRTRIX") == "1"


def _missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (MONAI_FODGAN_REQUIRE_MRTRIX=1 demands it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mrtrix() -> None:
    """Skip (or fail in CI) when MRtrix3 is not installed."""
    if shutil.which("mrtransform") is None:
        _missing("MRtrix3 is not installed (apt-get install mrtrix3)")


@pytest.fixture
def headless_chromium():
    """A Selenium driver for headless Chromium (reports are checked as a browser renders them), quit afterwards;
    skips (or fails in CI) when Chromium or ChromeDriver is not installed."""
    browser, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver_path is None:
        _missing("Chromium / ChromeDriver not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,2000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real multi-shell test data; skip (or fail in CI) when absent."""
    if not (SHARED_DATA / "msmt_wm.mif").is_file():
        _missing(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_wm_fod(shared_data: Path, mrtrix: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MRtrix3's own lmax-8 WM FOD of the real oblique test image, converted to NIfTI once."""
    out = tmp_path_factory.mktemp("real") / "msmt_wm.nii"
    run_mrtrix("mrconvert", shared_data / "msmt_wm.mif", out, "-force")
    return out


@pytest.fixture(scope="session")
def real_dwi_nifti(shared_data: Path, mrtrix: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real oblique multi-shell DWI as NIfTI with FSL bval/bvec (exported by MRtrix3 itself)."""
    folder = tmp_path_factory.mktemp("real_dwi")
    paths = {"dwi": folder / "dwi.nii.gz", "bval": folder / "dwi.bval", "bvec": folder / "dwi.bvec", "mask": folder / "mask.nii.gz"}
    run_mrtrix("mrconvert", shared_data / "msmt_dwi.mif", paths["dwi"], "-export_grad_fsl", paths["bvec"], paths["bval"], "-force")
    run_mrtrix("mrconvert", shared_data / "msmt_mask.mif", paths["mask"], "-force")
    return paths


TINY_SHAPE = (16, 16, 8)


@pytest.fixture(scope="session")
def tiny_fod_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared-cohort folder at 16 x 16 x 8 (6 training, 2 validation phantom subjects, ground-truth FODs):
    ``fod/*.nii.gz``, ``datalist.json`` and ``sh_stats.json``, as ``monai-fodgan-prepare`` writes them."""
    import json

    from monai_fodgan.data.phantom import make_subject
    from monai_fodgan.io import save_nifti
    from monai_fodgan.transforms import SHNormalization

    folder = tmp_path_factory.mktemp("tiny_dataset")
    (folder / "fod").mkdir()
    entries, images = [], []
    for i in range(8):
        subject = make_subject(i, shape=TINY_SHAPE, seed=7)
        name = f"sub-{i + 1:04d}"
        save_nifti(subject.fod.transpose(3, 0, 1, 2), subject.affine, folder / "fod" / f"{name}.nii.gz")
        entries.append({"image": f"fod/{name}.nii.gz", "subject": name})
        images.append(subject.fod.transpose(3, 0, 1, 2))
    SHNormalization.from_images(images[:6]).save(folder / "sh_stats.json")
    (folder / "datalist.json").write_text(json.dumps({"lmax": 6, "training": entries[:6], "validation": entries[6:]}))
    return folder


EVAL_SHAPE = (32, 32, 16)


@pytest.fixture(scope="session")
def eval_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small evaluation sets with known answers: the reference set is two phantom subjects (true FODs,
    32 x 32 x 16, in MNI space with known AAL labels and bundles), the training set two others, and the synthetic
    set COPIES of the two reference subjects (same names) plus a copy of one training subject ("sub-copy"): matching
    synthetic-reference pairs are identical, and sub-copy is a memorised training subject."""
    import shutil

    from monai_fodgan.data.phantom import make_population

    root = tmp_path_factory.mktemp("eval_sets")
    phantom = make_population(root / "phantom", n=4, shape=EVAL_SHAPE, seed=5, dwi=False)
    truth = {k: phantom / "derivatives" / "phantom" / f"sub-{k:04d}" / f"sub-{k:04d}_fod.nii.gz" for k in range(1, 5)}
    folders = {name: root / name for name in ("reference", "training", "synthetic")}
    for folder in folders.values():
        folder.mkdir()
    for k in (1, 2):
        shutil.copy(truth[k], folders["reference"] / f"sub-{k:04d}.nii.gz")
        shutil.copy(truth[k], folders["synthetic"] / f"sub-{k:04d}.nii.gz")
    for k in (3, 4):
        shutil.copy(truth[k], folders["training"] / f"sub-{k:04d}.nii.gz")
    shutil.copy(truth[3], folders["synthetic"] / "sub-copy.nii.gz")
    return {"phantom": phantom, **folders}




@pytest.fixture(scope="session")
def dask_cluster() -> str:
    """A real Dask cluster on this machine, two worker PROCESSES of one thread each (as separate nodes would be; its
    dashboard on a free port, as each pytest-xdist worker starts its own cluster):
    yields its scheduler address. The workers import the repository first (PYTHONPATH), as the test process does;
    a dead worker is restarted by its nanny."""
    import logging

    from distributed import LocalCluster

    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MPLBACKEND")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else [])])
    os.environ["MPLBACKEND"] = "Agg"
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster:
            yield cluster.scheduler_address
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
