"""Adding subjects to an existing dataset (issue 15, item 8): the subjects already there keep their files and
split, the crop box is re-used (or a subject outside it refused, or everything re-cropped with --recrop), and
``datalist.json``, ``sh_stats.json`` and ``summary.json`` always describe the same subjects, also when every subject
of a re-run fails. Ready FODs (phantom ground truth, 16 x 16 x 8) keep these runs to seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from monai_fodgan.io import load_fod
from monai_fodgan.prepare.__main__ import main as prepare
from monai_fodgan.transforms import SHNormalization

SHAPE = ["--shape", "12", "12", "6"]


def _table(path: Path, rows: dict[str, Path]) -> Path:
    path.write_text("subject,fod\n" + "".join(f"{s},{f}\n" for s, f in rows.items()))
    return path


def _dataset(out: Path) -> tuple[dict, dict]:
    return json.loads((out / "datalist.json").read_text()), json.loads((out / "summary.json").read_text())


def _agree(out: Path) -> dict:
    """datalist.json, summary.json and sh_stats.json describe the same subjects; returns the datalist."""
    datalist, summary = _dataset(out)
    for key in ("training", "validation"):
        assert summary["dataset"][key] == [e["subject"] for e in datalist[key]]
        assert summary[key] == len(datalist[key])
        assert all((out / e["image"]).is_file() for e in datalist[key])
    expected = SHNormalization.from_images([load_fod(out / e["image"]) for e in datalist["training"]])
    np.testing.assert_allclose(SHNormalization.load(out / "sh_stats.json").scales, expected.scales, rtol=1e-6)
    return datalist


@pytest.fixture()
def fods(tiny_fod_dataset: Path, tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in"
    shutil.copytree(tiny_fod_dataset / "fod", folder)
    return {p.name.split(".")[0]: p for p in sorted(folder.glob("*.nii.gz"))}


def _first_four(fods: dict[str, Path], tmp_path: Path) -> tuple[Path, dict[str, tuple[int, bytes]]]:
    out = tmp_path / "set"
    rows = dict(list(fods.items())[:4])
    assert prepare(["--table", str(_table(tmp_path / "first.csv", rows)), "--out", str(out), "--val", "1", *SHAPE]) == 0
    stamps = {s: ((out / "fod" / f"{s}.nii.gz").stat().st_mtime_ns, (out / "fod" / f"{s}.nii.gz").read_bytes()) for s in rows}
    return out, stamps


def test_adding_subjects_keeps_the_others_and_their_crop_box(fods: dict[str, Path], tmp_path: Path) -> None:
    out, stamps = _first_four(fods, tmp_path)
    before = _agree(out)
    # new subjects inside the dataset's box: copies of two of its subjects under new IDs
    new = {"sub-0101": fods["sub-0001"], "sub-0102": fods["sub-0002"]}
    assert prepare(["--table", str(_table(tmp_path / "more.csv", new)), "--out", str(out), "--val", "1", *SHAPE]) == 0
    after = _agree(out)
    listed = {e["subject"]: k for k in ("training", "validation") for e in after[k]}
    assert set(listed) == set(stamps) | set(new)
    assert all(listed[e["subject"]] == k for k in ("training", "validation") for e in before[k])  # split kept
    for s, (mtime, content) in stamps.items():  # the others untouched
        path = out / "fod" / f"{s}.nii.gz"
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == content
    np.testing.assert_array_equal(nib.load(str(out / "fod" / "sub-0101.nii.gz")).affine,
                                  nib.load(str(out / "fod" / "sub-0001.nii.gz")).affine)  # the same crop box
    np.testing.assert_array_equal(load_fod(out / "fod" / "sub-0101.nii.gz"), load_fod(out / "fod" / "sub-0001.nii.gz"))
    summary = _dataset(out)[1]
    assert summary["dataset"]["added"] == ["sub-0101", "sub-0102"] and summary["dataset"]["kept_from_before"] == sorted(stamps)


def test_a_subject_outside_the_crop_box_is_refused_or_everything_recropped(fods: dict[str, Path], tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture) -> None:
    out, stamps = _first_four(fods, tmp_path)
    img = nib.load(str(fods["sub-0005"]))
    shifted = img.affine.copy()
    shifted[0, 3] += 40.0  # the same brain 40 mm further right: outside the dataset's box
    moved = tmp_path / "moved.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), shifted), str(moved))
    table = _table(tmp_path / "moved.csv", {"sub-moved": moved})
    assert prepare(["--table", str(table), "--out", str(out), "--val", "1", *SHAPE]) == 1
    err = capsys.readouterr().err
    assert "FAILED sub-moved" in err and "outside the crop box" in err and "--recrop" in err
    datalist = _agree(out)
    assert "sub-moved" not in {e["subject"] for k in ("training", "validation") for e in datalist[k]}
    assert all((out / "fod" / f"{s}.nii.gz").read_bytes() == c for s, (_, c) in stamps.items())
    # --recrop: every subject re-cropped (from native/) to a box holding them all
    assert prepare(["--table", str(table), "--out", str(out), "--val", "1", "--recrop", *SHAPE]) == 0
    datalist = _agree(out)
    assert len(datalist["training"]) + len(datalist["validation"]) == 5
    affines = {e["subject"]: nib.load(str(out / e["image"])).affine for k in ("training", "validation") for e in datalist[k]}
    assert all(np.array_equal(a, affines["sub-moved"]) for a in affines.values())
    box = np.asarray(datalist["crop_box_mm"])
    assert box[1, 0] - box[0, 0] > 40  # now spans both positions
    assert _dataset(out)[1]["dataset"]["recropped"] == sorted(stamps)


def test_rerun_where_every_subject_fails_keeps_datalist_and_summary_in_agreement(fods: dict[str, Path],
                                                                                 tmp_path: Path) -> None:
    out, stamps = _first_four(fods, tmp_path)
    broken = {}
    for s in stamps:
        broken[s] = tmp_path / f"{s}_broken.nii.gz"
        broken[s].write_bytes(b"not an image")
    assert prepare(["--table", str(_table(tmp_path / "broken.csv", broken)), "--out", str(out), "--val", "1", *SHAPE]) == 1
    datalist, summary = _dataset(out)
    assert sorted(f["subject"] for f in summary["failed"]) == sorted(stamps)
    assert _agree(out) == datalist  # the previous results stay listed, and the summary says so
    assert summary["dataset"]["kept_from_before"] == sorted(stamps)


def test_another_grid_is_refused_while_subjects_are_kept(fods: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    out, _ = _first_four(fods, tmp_path)
    table = _table(tmp_path / "more.csv", {"sub-0101": fods["sub-0001"]})
    assert prepare(["--table", str(table), "--out", str(out), "--shape", "16", "16", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(out / "datalist.json") in err and "shape" in err
