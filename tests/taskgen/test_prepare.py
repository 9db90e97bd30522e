"""The task-generation preparation CLI on the demo population: outputs, resume, bad inputs, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_fodgan.io import save_nifti
from monai_fodgan.taskgen.connectivity import dual_regression_stage1, masked_timeseries, pooled_connectivity_maps
from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
from monai_fodgan.taskgen.prepare import main

SPEC = PopulationSpec(voxel_mm=12.0, n_components=5, n_contrasts=3, n_runs=2, n_frames=40)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_population(tmp_path_factory.mktemp("taskgen") / "pop", n=4, spec=SPEC)


def _args(pop: Path, out: Path, table: Path | None = None, *extra: str) -> list[str]:
    return ["--table", str(table or pop / "subjects.tsv"), "--components", str(pop / "group" / "components.nii.gz"),
            "--mask", str(pop / "group" / "brain_mask.nii.gz"), "--gm-mask", str(pop / "group" / "gm_mask.nii.gz"),
            "--out", str(out), "--window", "20", "--val", "1", *extra]


def test_cli_prepares_the_population(population, tmp_path, capsys):
    out = tmp_path / "prep"
    assert main(_args(population, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 4 and summary["failed"] == [] and (summary["training"], summary["validation"]) == (3, 1)
    datalist = json.loads((out / "datalist.json").read_text())
    assert len(datalist["training"]) == 3 * 4  # 2 runs x 2 windows of 20 frames per subject
    assert datalist["components"] == 5 and datalist["contrasts"] == 3 and len(datalist["validation"][0]["samples"]) == 4
    # the maps are the connectivity of the subject's runs, on the mask's grid
    mask = nib.load(str(out / "mask.nii.gz")).get_fdata() > 0
    maps = nib.load(str(population / "group" / "components.nii.gz")).get_fdata()[mask]
    runs = [nib.load(str(population / "sub-0002" / "func" / f"sub-0002_task-rest_run-{r}_bold.nii.gz")).get_fdata()
            for r in (1, 2)]
    expected = pooled_connectivity_maps([(x, dual_regression_stage1(x, maps)) for x in
                                         (masked_timeseries(run, mask) for run in runs)])
    got = nib.load(str(out / "maps" / "sub-0002_conn.nii.gz"))
    np.testing.assert_allclose(got.get_fdata()[mask], expected, atol=1e-6)
    assert got.shape == mask.shape + (5,)
    x1 = masked_timeseries(runs[0], mask)
    win = pooled_connectivity_maps([(x1[:, 20:40], dual_regression_stage1(x1, maps)[20:40])])
    np.testing.assert_allclose(nib.load(str(out / "maps" / "sub-0002_conn_win-2.nii.gz")).get_fdata()[mask], win, atol=1e-6)
    task_in = nib.load(str(population / "derivatives" / "taskmaps" / "sub-0002_contrasts.nii.gz")).get_fdata()
    np.testing.assert_allclose(nib.load(str(out / "task" / "sub-0002_task.nii.gz")).get_fdata(), task_in, atol=1e-6)
    assert np.load(out / "connectome" / "sub-0002.npy").shape == (5, 5)
    assert "prepared 4 subjects" in capsys.readouterr().out


def test_resume_skips_unchanged_and_redoes_changed(population, tmp_path):
    pop = tmp_path / "pop"
    shutil.copytree(population, pop)
    out = tmp_path / "prep"
    assert main(_args(pop, out)) == 0
    run = pop / "sub-0003" / "func" / "sub-0003_task-rest_run-2_bold.nii.gz"
    img = nib.load(str(run))
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[..., ::-1].copy(), img.affine), str(run))  # same size, new content
    assert main(_args(pop, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["done"], summary["skipped"]) == (1, 3)


def _broken_table(pop: Path, tmp: Path, kind: str) -> tuple[Path, str]:
    """A table whose sub-0004 has one kind of bad input; returns the table and the text the error must contain."""
    rows = (pop / "subjects.tsv").read_text().splitlines()
    subject, rest, task = rows[4].split("\t")
    first = pop / rest.split(";")[0]
    img = nib.load(str(first))
    data = np.asarray(img.dataobj)
    bad = tmp / "bad_bold.nii.gz"
    if kind == "missing":
        rest = "sub-0004/func/nothing_here.nii.gz"
        needle = "nothing_here.nii.gz"
    elif kind == "3d":
        nib.save(nib.Nifti1Image(data[..., 0], img.affine), str(bad))
        rest, needle = str(bad), "must be 4D"
    elif kind == "grid":
        save_nifti(np.moveaxis(data[1:], -1, 0), img.affine, bad)
        rest, needle = str(bad), "not the mask's"
    else:  # too few frames
        nib.save(nib.Nifti1Image(data[..., :10], img.affine), str(bad))
        rest, needle = str(bad), "10 frames, fewer than 20"
    rows[4] = "\t".join([subject, rest, task])
    table = pop / f"subjects_{kind}.tsv"
    table.write_text("\n".join(rows) + "\n")
    return table, needle


@pytest.mark.parametrize("kind", ["missing", "3d", "grid", "frames"])
def test_bad_subject_is_named_and_others_finish(population, tmp_path, kind, capsys):
    table, needle = _broken_table(population, tmp_path, kind)
    out = tmp_path / "prep"
    assert main(_args(population, out, table)) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 3 and [f["subject"] for f in summary["failed"]] == ["sub-0004"]
    assert needle in summary["failed"][0]["error"] and "sub-0004" in summary["failed"][0]["error"]
    assert not (out / "maps" / "sub-0004_conn.nii.gz").exists()
    assert "FAILED sub-0004" in capsys.readouterr().err


def test_bad_group_inputs_exit_2(population, tmp_path):
    comps = nib.load(str(population / "group" / "components.nii.gz"))
    flat = tmp_path / "components3d.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(comps.dataobj)[..., 0], comps.affine), str(flat))
    args = _args(population, tmp_path / "prep")
    args[args.index("--components") + 1] = str(flat)
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["--components", "c.nii.gz", "--mask", "m.nii.gz", "--out", str(tmp_path)])  # neither --table nor --bids
    assert e.value.code == 2


def test_bids_scan_and_task_on_another_grid(population, tmp_path):
    """A BIDS-style folder; task maps on a finer grid of the same world space are resampled onto the mask's grid."""
    pop = tmp_path / "pop"
    shutil.copytree(population, pop)
    task = pop / "derivatives" / "taskmaps" / "sub-0001_contrasts.nii.gz"
    img = nib.load(str(task))
    data = np.asarray(img.dataobj)
    fine = np.repeat(data, 2, axis=0)  # half-size voxels along x
    affine = img.affine.copy()
    affine[0, 0] /= 2
    affine[0, 3] -= affine[0, 0] / 2  # voxel centres of the pairs straddle the coarse centre
    nib.save(nib.Nifti1Image(fine, affine), str(task))
    out = tmp_path / "prep"
    assert main(["--bids", str(pop), *_args(pop, out)[2:]]) == 0
    got = nib.load(str(out / "task" / "sub-0001_task.nii.gz")).get_fdata()
    mask = nib.load(str(out / "mask.nii.gz")).get_fdata() > 0
    assert got.shape == mask.shape + (3,)
    inner = mask.copy()
    inner[0], inner[-1] = False, False
    np.testing.assert_allclose(got[inner], data[inner], atol=1e-5)


def test_duplicate_subjects_exit_2(population, tmp_path):
    rows = (population / "subjects.tsv").read_text().splitlines()
    table = population / "subjects_duplicate.tsv"
    table.write_text("\n".join(rows + [rows[1]]) + "\n")
    with pytest.raises(SystemExit) as e:
        main(_args(population, tmp_path / "prep", table))
    assert e.value.code == 2


def test_named_validation_subjects(population, tmp_path):
    out = tmp_path / "prep"
    assert main([*_args(population, out), "--val-subjects", "sub-0002", "sub-0004"]) == 0
    datalist = json.loads((out / "datalist.json").read_text())
    assert [e["subject"] for e in datalist["validation"]] == ["sub-0002", "sub-0004"]
    assert {e["subject"] for e in datalist["training"]} == {"sub-0001", "sub-0003"}


def test_rerun_removes_temporaries_of_a_killed_run(population, tmp_path):
    out = tmp_path / "prep"
    (out / "maps").mkdir(parents=True)
    leftover = out / "maps" / ".sub-0001_conn-abc123.nii.gz"
    leftover.write_bytes(b"half")
    assert main(_args(population, out)) == 0
    assert not leftover.exists()
