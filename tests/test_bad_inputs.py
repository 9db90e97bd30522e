"""Every bad input refused with its file named (issue 15, items 1, 3, 6, 7 and 10): one parametrised test per input
class (prepare, training data, evaluate, checkpoints), so the number of cases each class tries shows in the test
output. Every case asserts the exit code (commands) or exception (library), that the message names the file or
option at fault, and that it is one line.

Real files, real commands (called in-process through their ``main``), real file systems: a read-only or full disk
is a small tmpfs mounted for the test where the test runs as root (else a read-only folder is made with chmod, and
the disk-full case is skipped)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_fodgan.validation import FODValidationError


@contextlib.contextmanager
def _filesystem(where: Path, size: str = "1m", read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs at ``where`` (read-only if asked): a real full or read-only disk."""
    where.mkdir()
    if os.geteuid() == 0 and shutil.which("mount"):
        options = f"size={size}" + (",ro" if read_only else "")
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode == 0:
            try:
                yield where
            finally:
                subprocess.run(["umount", "-l", str(where)], capture_output=True)
            return
    if read_only and os.geteuid() != 0:
        where.chmod(0o555)
        try:
            yield where
        finally:
            where.chmod(0o755)
        return
    pytest.skip("a full disk needs a small tmpfs: run as root with mount available")


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert lines, "no message"
    return lines[-1]


def _fod(path: Path, shape: tuple[int, ...] = (32, 32, 16), affine: np.ndarray | None = None, n_sh: int = 28,
         seed: int = 0) -> Path:
    data = np.random.default_rng(seed).normal(0, 0.1, (*shape, n_sh)).astype(np.float32)
    data[..., 0] = np.abs(data[..., 0]) + 0.2
    aff = np.diag([2.0, 2.0, 2.0, 1.0]) if affine is None else affine
    nib.save(nib.Nifti1Image(data, aff), str(path))
    return path


# -- prepare ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def one_dwi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One phantom subject's simulated DWI (16 x 16 x 8) with bval/bvec and a brain mask."""
    from monai_fodgan.data.phantom import make_population

    root = make_population(tmp_path_factory.mktemp("bad_prepare") / "ph", n=1, shape=(16, 16, 8), seed=2)
    dwi = next(root.glob("sub-0001/dwi/*_dwi.nii.gz"))
    stem = dwi.name.split(".nii")[0]
    img = nib.load(str(dwi))
    mask = dwi.parent.parent.parent / "mask.nii.gz"
    nib.save(nib.Nifti1Image((np.asarray(img.dataobj)[..., 0] > 0).astype(np.uint8), img.affine), str(mask))
    return {"dwi": dwi, "bval": dwi.parent / f"{stem}.bval", "bvec": dwi.parent / f"{stem}.bvec", "mask": mask}


PREPARE_CASES = ["table ID escaping --out", "absolute table ID", "--subject escaping --out", "unsafe BIDS subject",
                 "subject listed twice", "malformed datalist.json in --out", "read-only output folder",
                 "unwritable parent", "output parent is a file", "disk full", "mask of another geometry",
                 "mask of another shape", "NaN in the DWI", "table line with extra fields", "empty table"]


@pytest.mark.parametrize("case", PREPARE_CASES)
def test_prepare_refuses(case: str, one_dwi: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from monai_fodgan.prepare.__main__ import main

    d = one_dwi
    out = tmp_path / "deep" / "er" / "set"
    table = tmp_path / "subjects.csv"
    row = f"{d['dwi']},{d['bval']},{d['bvec']}"
    base = ["--backend", "dipy", "--shape", "8", "8", "4"]
    code, args, culprit = 2, None, None
    with contextlib.ExitStack() as stack:
        if case == "table ID escaping --out":
            table.write_text(f"subject,dwi,bval,bvec\n../../evil,{row}\n")
            culprit = f"{table}, line 2"
        elif case == "absolute table ID":
            table.write_text(f"subject,dwi,bval,bvec\n{tmp_path / 'evil'},{row}\n")
            culprit = f"{table}, line 2"
        elif case == "--subject escaping --out":
            args, culprit = ["--dwi", str(d["dwi"]), "--bval", str(d["bval"]), "--bvec", str(d["bvec"]),
                             "--subject", "../x"], "--subject"
        elif case == "unsafe BIDS subject":
            folder = tmp_path / "bids" / "sub-a..b" / "dwi"
            folder.mkdir(parents=True)
            shutil.copy(d["dwi"], folder / "sub-a..b_dwi.nii.gz")
            args, culprit = ["--bids", str(tmp_path / "bids")], str(folder / "sub-a..b_dwi.nii.gz")
        elif case == "subject listed twice":
            table.write_text(f"subject,dwi,bval,bvec\ns1,{row}\ns2,{row}\ns1,{row}\n")
            culprit = f"{table}, lines 2 and 4"
        elif case == "malformed datalist.json in --out":
            out.mkdir(parents=True)
            (out / "datalist.json").write_text('{"training": [')
            table.write_text(f"subject,dwi,bval,bvec\ns1,{row}\n")
            culprit = str(out / "datalist.json")
        elif case in ("read-only output folder", "unwritable parent"):
            mount = stack.enter_context(_filesystem(tmp_path / "ro", read_only=True))
            out = mount if case == "read-only output folder" else mount / "set"
            table.write_text(f"subject,dwi,bval,bvec\ns1,{row}\n")
            culprit = str(out if case == "read-only output folder" else mount)
        elif case == "output parent is a file":
            (tmp_path / "afile").write_text("")
            out = tmp_path / "afile" / "set"
            table.write_text(f"subject,dwi,bval,bvec\ns1,{row}\n")
            culprit = str(out)
        elif case == "disk full":
            out = stack.enter_context(_filesystem(tmp_path / "full", size="64k")) / "set"
            table.write_text(f"subject,fod\ns1,{_fod(tmp_path / 'wm.nii.gz')}\n")  # 1.8 MB does not fit in 64 kB
            code, culprit = 1, str(out / "native" / "s1_fod.nii.gz")
        elif case == "mask of another geometry":  # right shape, x flipped and shifted 40 mm
            img = nib.load(str(d["mask"]))
            flipped = np.diag([-1.0, 1.0, 1.0, 1.0]) @ img.affine
            flipped[0, 3] += 40.0
            nib.save(nib.Nifti1Image(np.asarray(img.dataobj), flipped), str(tmp_path / "moved_mask.nii.gz"))
            table.write_text(f"subject,dwi,bval,bvec,mask\ns1,{row},{tmp_path / 'moved_mask.nii.gz'}\n")
            code, culprit = 1, str(tmp_path / "moved_mask.nii.gz")
        elif case == "mask of another shape":
            img = nib.load(str(d["mask"]))
            nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[:-1], img.affine), str(tmp_path / "small_mask.nii.gz"))
            table.write_text(f"subject,dwi,bval,bvec,mask\ns1,{row},{tmp_path / 'small_mask.nii.gz'}\n")
            code, culprit = 1, str(tmp_path / "small_mask.nii.gz")
        elif case == "NaN in the DWI":
            img = nib.load(str(d["dwi"]))
            data = np.asarray(img.dataobj, dtype=np.float32)
            data[4, 4, 4, 1] = np.nan
            nib.save(nib.Nifti1Image(data, img.affine), str(tmp_path / "nan_dwi.nii.gz"))
            table.write_text(f"subject,dwi,bval,bvec\ns1,{tmp_path / 'nan_dwi.nii.gz'},{d['bval']},{d['bvec']}\n")
            code, culprit = 1, str(tmp_path / "nan_dwi.nii.gz")
        elif case == "table line with extra fields":
            table.write_text(f"subject,dwi,bval,bvec\ns1,{row},extra\n")
            culprit = f"{table}, line 2"
        elif case == "empty table":
            table.write_text("\n")
            culprit = str(table)
        if args is None:
            args = ["--table", str(table)]
        try:
            result = main([*args, "--out", str(out), *base])
        except SystemExit as exit_:  # argparse's error(): exit 2 after printing the message
            result = exit_.code
        message = _one_line(capsys.readouterr().err)
    assert result == code, message
    assert culprit in message, message
    assert not list(tmp_path.glob("evil*")) and not list(tmp_path.parent.glob("evil*")) and not Path("/x").exists()
    if code == 2 and case not in ("malformed datalist.json in --out",):
        assert not (out / "datalist.json").exists()


# -- training data ------------------------------------------------------------------------------------------------

TRAINING_CASES = ["malformed datalist JSON", "datalist without the key", "entry without image", "missing image",
                  "3D image", "too few SH volumes", "other grid", "NaN voxel", "not an image"]


@pytest.mark.parametrize("case", TRAINING_CASES)
def test_training_data_refused(case: str, tmp_path: Path) -> None:
    from monai_fodgan.data import FODStreamDataset, load_datalist
    from monai_fodgan.transforms import LoadFODd

    datalist = tmp_path / "datalist.json"
    image = tmp_path / "fod" / "sub-01.nii.gz"
    image.parent.mkdir()
    entry: dict = {"image": "fod/sub-01.nii.gz", "subject": "sub-01"}
    culprit, error = str(image), FODValidationError
    if case == "malformed datalist JSON":
        datalist.write_text('{"training": [{"image": "fod/sub-01.nii.gz"},')
        culprit = str(datalist)
    elif case == "datalist without the key":
        datalist.write_text('{"validation": []}')
        culprit = str(datalist)
    elif case == "entry without image":
        datalist.write_text('{"training": [{"subject": "sub-01"}]}')
        culprit = str(datalist)
    else:
        datalist.write_text(json.dumps({"training": [entry]}))
        if case == "missing image":
            pass
        elif case == "3D image":
            nib.save(nib.Nifti1Image(np.zeros((16, 16, 8), np.float32), np.eye(4)), str(image))
        elif case == "too few SH volumes":
            _fod(image, (16, 16, 8), n_sh=15)
        elif case == "other grid":
            _fod(image, (16, 16, 9))
        elif case == "NaN voxel":
            _fod(image, (16, 16, 8))
            data = np.asarray(nib.load(str(image)).dataobj).copy()
            data[3, 3, 3, 5] = np.nan
            nib.save(nib.Nifti1Image(data, np.eye(4)), str(image))
        elif case == "not an image":
            image.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(error) as info:
        data = load_datalist(datalist, "training")
        dataset = FODStreamDataset(data, LoadFODd("image", lmax=6), seed=0, lmax=6, spatial_shape=(16, 16, 8))
        dataset[0]
    message = str(info.value)
    assert culprit in message and "\n" not in message, message


# -- evaluate -----------------------------------------------------------------------------------------------------

EVALUATE_CASES = ["NaN voxel", "infinite voxel", "truncated file", "not an image", "odd grid listed first",
                  "malformed datalist", "datalist entry without image", "read-only output folder", "output parent is a file"]


@pytest.mark.parametrize("case", EVALUATE_CASES)
def test_evaluate_refuses(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from monai_fodgan.evaluate import main

    synthetic, reference = tmp_path / "synthetic", tmp_path / "reference"
    synthetic.mkdir()
    reference.mkdir()
    for k in range(3):
        _fod(synthetic / f"sub-synth{k}.nii.gz", seed=k)
        _fod(reference / f"sub-{k}.nii.gz", seed=10 + k)
    out = tmp_path / "report"
    syn_arg, culprit = str(synthetic), None
    with contextlib.ExitStack() as stack:
        if case in ("NaN voxel", "infinite voxel"):
            path = synthetic / "sub-synth1.nii.gz"
            data = np.asarray(nib.load(str(path)).dataobj).copy()
            data[10, 11, 5, 3] = np.nan if case == "NaN voxel" else np.inf
            nib.save(nib.Nifti1Image(data, nib.load(str(path)).affine), str(path))
            culprit = str(path)
        elif case == "truncated file":
            path = synthetic / "sub-synth2.nii.gz"
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            culprit = str(path)
        elif case == "not an image":
            path = synthetic / "notes.nii.gz"
            path.write_bytes(gzip.compress(b"not an image"))
            culprit = str(path)
        elif case == "odd grid listed first":  # the old check blamed the second file; the odd one is the first
            path = reference / "sub-0.nii.gz"
            _fod(path, affine=np.diag([2.0, 2.0, 2.0, 1.0]) + np.array([[0, 0, 0, 5.0]] + [[0] * 4] * 3))
            culprit = str(path)
        elif case == "malformed datalist":
            (tmp_path / "synthetic.json").write_text('{"training": [')
            syn_arg = culprit = str(tmp_path / "synthetic.json")
        elif case == "datalist entry without image":
            (tmp_path / "synthetic.json").write_text('{"training": [{"subject": "x"}]}')
            syn_arg = culprit = str(tmp_path / "synthetic.json")
        elif case == "read-only output folder":
            out = stack.enter_context(_filesystem(tmp_path / "ro", read_only=True))
            culprit = str(out)
        elif case == "output parent is a file":
            (tmp_path / "afile").write_text("")
            out = tmp_path / "afile" / "report"
            culprit = str(out)
        result = main(["--synthetic", syn_arg, "--reference", str(reference), "--synthetic-key", "training",
                       "--out", str(out), "--backend", "dipy", "--no-progress"])
        message = _one_line(capsys.readouterr().err)
    assert result == 2 and culprit in message, message
    if case == "odd grid listed first":
        assert "sub-1.nii.gz" not in message.split(" is on another grid")[0]
    if case not in ("read-only output folder",):
        assert not out.exists()  # refused before any work: not even the output folder


# -- checkpoints --------------------------------------------------------------------------------------------------

class _Payload:
    """Unpickling this would create the marker file: what ``weights_only=True`` must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


CHECKPOINT_CASES = ["missing file", "truncated file", "pickle payload", "random bytes", "JSON instead of a checkpoint",
                    "other hyperparameters"]


@pytest.mark.parametrize("case", CHECKPOINT_CASES)
def test_checkpoint_refused(case: str, tmp_path: Path, tiny_fod_dataset: Path) -> None:
    from monai_fodgan.engines import AlphaWGANCheckpoint
    from monai_fodgan.engines.checkpoint import load_checkpoint

    path = tmp_path / "checkpoint_00000001.pt"
    marker = tmp_path / "executed"
    error: type[Exception] = ValueError
    if case == "missing file":
        error = FileNotFoundError
    elif case == "truncated file":
        torch.save({"model": {"w": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:300])
    elif case == "pickle payload":
        torch.save({"model": _Payload(marker)}, path)
    elif case == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == "JSON instead of a checkpoint":
        path.write_text('{"model": {}}')
    if case != "other hyperparameters":
        with pytest.raises(error) as info:
            load_checkpoint(path)
    else:
        from tests.engines.test_trainer import make_trainer

        trainer = make_trainer(tiny_fod_dataset, iterations=1)
        handler = AlphaWGANCheckpoint(tmp_path / "ckpt")
        state = handler.state(trainer)
        state["config_hash"] = "another architecture"
        torch.save(state, path)
        with pytest.raises(error) as info:
            handler.load(trainer, path)
    assert str(path) in str(info.value) and not marker.exists()
