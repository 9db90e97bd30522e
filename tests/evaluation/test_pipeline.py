"""The evaluation command end to end, with known answers (see conftest.py for the sets)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.evaluation.conftest import FAST, run_cli


def _strict_json(path: Path) -> dict:
    def reject(constant: str) -> None:
        raise ValueError(f"{path} holds {constant}: not valid JSON")

    return json.loads(path.read_text(), parse_constant=reject)


def test_identical_sets_give_dice_one_and_mantel_one(evaluated) -> None:
    out, proc = evaluated
    m = _strict_json(out / "metrics.json")
    assert "report:" in proc.stdout and m["sets"]["synthetic"] == ["sub-0001", "sub-0002", "sub-copy"]
    # synthetic x reference pairs, synthetic-major: (sub-0001, sub-0001) is pair 0, (sub-0002, sub-0002) pair 3
    matching, others = [0, 3], [1, 2, 4, 5]
    assert m["backends"] == ["mrtrix", "dipy"]
    for backend in m["backends"]:
        mantel = m["connectomes"][backend]["mantel_r"]["between"]["values"]
        np.testing.assert_allclose([mantel[k] for k in matching], 1.0)
        for algorithm in ("deterministic", "probabilistic"):
            for tract in ("CC", "CST_L"):
                entry = m["tracts"][backend][algorithm][tract]
                assert entry["streamlines"]["reference"]["min"] > 0, (backend, algorithm, tract)
                dice = entry["dice"]["between"]["values"]
                assert [dice[k] for k in matching] == [1.0, 1.0], (backend, algorithm, tract)
                assert max(dice[k] for k in others) < 1.0
    squared = m["fod"]["squared_differences"]["between"]["values"]
    assert [squared[k] for k in matching] == [0.0, 0.0] and min(squared[k] for k in others) > 0


def test_memorised_training_subject_is_flagged(evaluated) -> None:
    out, _ = evaluated
    mem = _strict_json(out / "metrics.json")["generative"]["memorisation"]
    assert mem["flagged"] == ["sub-copy"]
    assert mem["synthetic"]["sub-copy"] == {"nearest_training": "sub-0003", "distance": 0.0}
    assert mem["reference_distance"]["min"] > 0


def test_ground_truth_comparisons_on_the_phantom(evaluated) -> None:
    out, _ = evaluated
    m = _strict_json(out / "metrics.json")
    reg = m["registration"]["reference"]
    assert reg["truth_aal_dice"]["mean"] > reg["truth_aal_dice_without_registration"]["mean"]
    for backend in m["backends"]:
        truth = m["tracts"][backend]["probabilistic"]["CC"]["truth_dice"]["reference"]
        assert truth["n"] == 2 and truth["min"] > 0.3  # 300 streamlines draw sparse 1 mm masks


def test_outputs_and_report(evaluated) -> None:
    out, _ = evaluated
    html = (out / "report.html").read_text()
    figures = sorted((out / "figures").glob("*.png"))
    assert len(figures) >= 15 and all(f.stat().st_size > 5_000 for f in figures)
    assert html.count("<img src=\"data:image/png;base64,") == len(figures)  # self-contained: every figure embedded
    for phrase in ("Key numbers", "global efficiency", "Mantel", "DIPY connectomes count streamlines", "(18.4 +- 6.0) x 10^3"):
        assert phrase in html


def test_rerun_resumes_from_the_cache(evaluated, eval_sets, tmp_path: Path) -> None:
    out, first = evaluated
    copy = tmp_path / "report"
    shutil.copytree(out, copy)
    subject_results = sorted((copy / "cache" / "subjects").rglob("*.npz"))
    stamps = {p: p.stat().st_mtime_ns for p in subject_results}
    proc = run_cli(["--synthetic", str(eval_sets["synthetic"]), "--reference", str(eval_sets["reference"]),
                    "--training", str(eval_sets["training"]), "--out", str(copy), "--backend", "both",
                    "--tracts", "CC", "CST_L", "--template", "phantom", "--truth", str(eval_sets["phantom"]), *FAST],
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in subject_results} == stamps  # nothing recomputed
    a, b = _strict_json(out / "metrics.json"), _strict_json(copy / "metrics.json")
    for key in ("fod", "connectomes", "tracts", "generative", "registration"):
        assert a[key] == b[key]


def test_a_failing_subject_is_reported_and_the_others_finish(eval_sets, tmp_path: Path) -> None:
    synthetic = tmp_path / "synthetic"
    shutil.copytree(eval_sets["synthetic"], synthetic)
    img = nib.load(str(synthetic / "sub-0001.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.float32), img.affine), str(synthetic / "sub-empty.nii.gz"))
    proc = run_cli(["--synthetic", str(synthetic), "--reference", str(eval_sets["reference"]), "--out", str(tmp_path / "out"),
                    "--backend", "dipy", "--tracts", "CC", "--algorithms", "deterministic", "--atlas", "mni",
                    "--streamlines", "500", "--tract-streamlines", "50", "--mantel-permutations", "9",
                    "--mmd-permutations", "9", "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 1
    assert "sub-empty" in proc.stderr + proc.stdout
    m = _strict_json(tmp_path / "out" / "metrics.json")
    assert [f["subject"] for f in m["failed"]] == ["sub-empty"] and "no positive voxel" in m["failed"][0]["error"]
    assert m["sets"]["synthetic"] == ["sub-0001", "sub-0002", "sub-copy"]


@pytest.mark.parametrize("case", ["missing folder", "3D image", "other grid", "no MRtrix3"])
def test_bad_input_is_named_before_any_work(eval_sets, tmp_path: Path, case: str) -> None:
    synthetic, reference, env, backend = eval_sets["synthetic"], eval_sets["reference"], None, "dipy"
    if case == "missing folder":
        synthetic, culprit = tmp_path / "nowhere", "nowhere"
    elif case == "3D image":
        synthetic = tmp_path / "synthetic"
        shutil.copytree(eval_sets["synthetic"], synthetic)
        nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), str(synthetic / "flat.nii.gz"))
        culprit = "flat.nii.gz"
    elif case == "other grid":
        reference = tmp_path / "reference"
        shutil.copytree(eval_sets["reference"], reference)
        img = nib.load(str(reference / "sub-0002.nii.gz"))
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[:, :, :8], img.affine), str(reference / "sub-0002.nii.gz"))
        culprit = "sub-0002.nii.gz"
    else:  # MRtrix3 asked for, but not on PATH
        env, backend, culprit = {"PATH": os.path.dirname(sys.executable)}, "mrtrix", "apt-get install mrtrix3"
    out = tmp_path / "out"
    proc = run_cli(["--synthetic", str(synthetic), "--reference", str(reference), "--out", str(out),
                    "--backend", backend, "--no-progress"], cwd=tmp_path, env=env)
    assert proc.returncode == 2 and culprit in proc.stderr, proc.stderr
    assert not out.exists()  # nothing was started


def test_report_renders_in_headless_chromium_with_every_figure(evaluated, headless_chromium) -> None:
    from selenium.webdriver.common.by import By

    out, _ = evaluated
    driver = headless_chromium
    driver.get((out / "report.html").as_uri())
    assert driver.execute_script("return document.readyState") == "complete"
    assert driver.title == "monai_fodgan evaluation"
    images = driver.find_elements(By.TAG_NAME, "img")
    assert len(images) == len(list((out / "figures").glob("*.png")))
    for img in images:
        loaded = driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
        assert loaded, img.get_attribute("alt")
    assert driver.find_element(By.ID, "section-notes").is_displayed()
    # the page opens with the verdict: its heading is the first, its table lists every check with a result
    assert driver.find_elements(By.TAG_NAME, "h2")[0].text == "Verdict"
    table = driver.find_element(By.ID, "verdict")
    assert table.is_displayed() and table.location["y"] < driver.find_element(By.ID, "section-fod").location["y"]
    rows = table.find_elements(By.TAG_NAME, "tr")[1:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(rows) == len(metrics["verdict"]["checks"]) >= 8
    results = [r.find_elements(By.TAG_NAME, "td")[2].text for r in rows]
    assert set(results) <= {"pass", "FAIL", "PIPELINE FAILURE", "n/a"} and "FAIL" in results  # sub-copy is memorised
    screenshot = out / "report_screenshot.png"
    assert driver.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 20_000


def test_verdict_states_targets_and_reasons(evaluated) -> None:
    out, _ = evaluated
    m = json.loads((out / "metrics.json").read_text())
    checks = {c["check"]: c for c in m["verdict"]["checks"]}
    memorised = checks["memorisation: synthetic subjects flagged as copies of training subjects"]
    assert memorised["status"] == "fail" and "sub-copy" in memorised["reason"]
    for c in checks.values():
        assert c["target"] and c["status"] in ("pass", "fail", "pipeline", "n/a")
        assert bool(c["reason"]) == (c["status"] in ("fail", "pipeline")) or c["status"] == "n/a"
    # synthetic and reference sets hold the same true FODs: every FOD-level check against them passes
    negative = next(c for c in checks.values() if c["check"].startswith("negative l = 0"))
    assert "brain mask" in negative["check"] and negative["status"] == "pass"
    region = m["fod"]["negative_l0_fraction"]
    assert 0 < region["brain_voxels"] < region["grid_voxels"]
    assert m["verdict"]["summary"].startswith(f"{m['verdict']['counts']['pass']} pass")


def test_verdict_flags_pipeline_failures(evaluated) -> None:
    from monai_fodgan.evaluation.verdict import verdict

    out, _ = evaluated
    m = json.loads((out / "metrics.json").read_text())
    backend = m["backends"][0]
    # a tract that no reference subject has, and a subject whose atlas registration failed
    m["tracts"][backend]["deterministic"]["CC"]["streamlines"]["reference"].update(mean=0.0, max=0.0)
    subject = next(iter(m["registration"]["subjects"]))
    m["registration"]["subjects"][subject]["quality"]["correlation"] = 0.2
    checks = verdict(m)["checks"]
    pipeline = [c for c in checks if c["status"] == "pipeline"]
    assert any("CC found in no reference subject" in c["reason"] for c in pipeline)
    assert any(subject in c["reason"] and "0.20" in c["reason"] for c in pipeline)
    assert verdict(m)["summary"].split(". ")[1].startswith(f"{len(pipeline)} pipeline failure")
