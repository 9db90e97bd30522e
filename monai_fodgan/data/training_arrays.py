"""Training storage that a GPU can be fed from: uncompressed float16 arrays, read through a memory map.

A paper-size training image (28 x 128 x 128 x 64 float32, 117 MB) takes about 3 s to decode from gzipped NIfTI
on one core, and each paper iteration reads 30 of them: a paper-scale run would be bound by its loader, not its
GPU. The prepared NIfTI files stay the exchange format (MRtrix3, DIPY, the evaluation read them); this module
derives from them, once, a copy for training:

    DATASET/training_arrays/<subject>.npy     (C, X, Y, Z) float16, C order: one contiguous read per image
    DATASET/training_arrays/grid.json         the common grid (affine, shape), dtype, and each array's source
    DATASET/training_arrays_datalist.json     datalist.json with every ``image`` pointing to its array

float16 keeps 11 significant bits: a relative rounding error of at most 2^-11 (4.9e-4) of each coefficient
(absolute below 6e-8 for the tiny background values), below bf16 training's own 2^-8. ``load_fod`` reads a
``.npy`` of such a folder into the same channel-first ``MetaTensor`` as the NIfTI, so configs only change
their datalist. Written atomically; arrays whose source is unchanged (size and modification time) are kept.

    python -m monai_fodgan.data.training_arrays DATASET        # or: monai-fodgan-prepare ... --training-arrays
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["ARRAY_FOLDER", "load_training_array", "write_training_arrays"]

ARRAY_FOLDER = "training_arrays"
_GRID = "grid.json"


def _source_stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}



def _array_path(folder: Path, image: str) -> Path:
    name = Path(image).name
    for suffix in (".nii.gz", ".nii", ".mif.gz", ".mif"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return folder / f"{name}.npy"


def write_training_arrays(dataset_dir: str | Path, dtype: str = "float16", lists: Sequence[str] = ("training", "validation"),
                          progress: bool = True, wait: bool = False) -> Path:
    """Write the float16 training arrays of a prepared dataset and their datalist; returns the datalist's path.

    Holds the dataset folder's lock (:class:`~monai_fodgan.locking.OutputLock`) while writing, as ``prepare`` does.

    Args:
        dataset_dir: the output folder of ``monai-fodgan-prepare`` (with ``datalist.json``).
        dtype: ``"float16"`` (default) or ``"float32"``.
        lists: datalist sections to convert.
        progress: print one line per written array.
        wait: wait for another run holding the folder instead of refusing.

    Raises:
        FileNotFoundError: no ``datalist.json``.
        ValueError: the images are not on one grid (the message names the first that differs).
        monai_fodgan.locking.OutputLockedError: another run holds the folder (and ``wait`` is False).
    """
    from monai_fodgan.locking import OutputLock

    root = Path(dataset_dir)
    datalist_file = root / "datalist.json"
    if not datalist_file.is_file():
        raise FileNotFoundError(f"{datalist_file}: no such file; prepare the dataset first (monai-fodgan-prepare).")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}.")
    with OutputLock(root, command="training arrays", wait=wait):
        return _write_arrays(root, datalist_file, dtype, lists, progress)


def _write_arrays(root: Path, datalist_file: Path, dtype: str, lists: Sequence[str], progress: bool) -> Path:
    from monai_fodgan.io import atomic_output, load_fod, save_json
    datalist = json.loads(datalist_file.read_text())
    folder = root / ARRAY_FOLDER
    folder.mkdir(exist_ok=True)
    previous = json.loads((folder / _GRID).read_text()) if (folder / _GRID).is_file() else {}
    sources = previous.get("sources", {}) if previous.get("dtype") == dtype else {}
    grid: dict | None = None
    out_lists: dict[str, list] = {}
    for section in lists:
        out_lists[section] = []
        for item in datalist.get(section, []):
            source = (root / item["image"]) if not Path(item["image"]).is_absolute() else Path(item["image"])
            target = _array_path(folder, item["image"])
            stamp = _source_stamp(source)
            fresh = target.is_file() and sources.get(target.name) == stamp
            img = None if fresh and grid is not None else load_fod(source)
            if img is not None:
                this = {"affine": np.asarray(img.affine, dtype=np.float64).tolist(), "spatial_shape": list(img.shape[1:])}
                if grid is None:
                    grid = this
                elif this["spatial_shape"] != grid["spatial_shape"] or not np.allclose(this["affine"], grid["affine"], atol=1e-4):
                    raise ValueError(f"{source}: grid {this['spatial_shape']} differs from the dataset's "
                                     f"{grid['spatial_shape']} (or its affine does); training arrays need one grid.")
            if not fresh:
                array = np.ascontiguousarray(img.numpy(), dtype=dtype)  # (C, X, Y, Z), C order
                with atomic_output(target) as tmp:
                    with open(tmp, "wb") as f:
                        np.save(f, array)
                sources[target.name] = stamp
                if progress:
                    print(f"training array {target} ({array.nbytes / 2**20:.1f} MiB)", flush=True)
            out_lists[section].append({**item, "image": f"{ARRAY_FOLDER}/{target.name}"})
    if grid is None:
        raise ValueError(f"{datalist_file}: lists {list(lists)} hold no images.")
    save_json({**grid, "dtype": dtype, "sources": sources}, folder / _GRID)
    # image paths relative to the dataset folder, like datalist.json's own: MONAI resolves them against base_dir
    out = root / f"{ARRAY_FOLDER}_datalist.json"
    save_json({**{k: v for k, v in datalist.items() if k not in out_lists}, **out_lists}, out)
    return out


def load_training_array(path: str | Path, lmax: int | None = None, truncate: bool = False):
    """A training array as a channel-first ``MetaTensor`` (C, X, Y, Z) float32 with the grid's affine.

    The file is memory-mapped and only the volumes kept (``lmax``, ``truncate``) are read and converted.

    Raises:
        FODValidationError: no ``grid.json`` beside it, a shape that differs from it, or bad values (names the file).
    """
    import torch
    from monai.data import MetaTensor

    from monai_fodgan.data.stream import image_grid
    from monai_fodgan.sh import n_coeffs
    from monai_fodgan.validation import FODValidationError, check_fod_array

    path = Path(path)
    grid_file = path.parent / _GRID
    if not grid_file.is_file():
        raise FODValidationError(f"{path}: no {_GRID} beside it; a training array needs its grid "
                                 "(write them with python -m monai_fodgan.data.training_arrays DATASET).")
    affine, shape = image_grid(path)  # the one reader of grid.json
    try:
        mapped = np.load(path, mmap_mode="r")
    except Exception as e:  # numpy raises several types for unreadable files
        raise FODValidationError(f"{path}: not a readable .npy array ({type(e).__name__}: {e}).") from None
    if mapped.ndim != 4 or tuple(mapped.shape[1:]) != shape:
        raise FODValidationError(f"{path}: shape {tuple(mapped.shape)} does not match the grid {list(shape)} "
                                 f"of {grid_file}.")
    keep = mapped.shape[0]
    if lmax is not None and truncate:
        keep = min(keep, n_coeffs(lmax))
    data = np.asarray(mapped[:keep], dtype=np.float32)  # one read and conversion of the kept volumes
    data = check_fod_array(data, str(path), lmax=lmax, truncate=truncate, channel_dim=0)
    return MetaTensor(torch.from_numpy(np.ascontiguousarray(data)), affine=torch.from_numpy(affine),
                      meta={"filename_or_obj": str(path)})


def build_parser() -> argparse.ArgumentParser:
    from monai_fodgan.cli import HelpFormatter

    parser = argparse.ArgumentParser(prog="python -m monai_fodgan.data.training_arrays", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("dataset", type=Path, help="a prepared dataset folder (with datalist.json)")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="stored type")
    parser.add_argument("--wait", action="store_true", help="if another run is using the folder, wait for it instead of refusing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from monai_fodgan.locking import OutputLockedError

    try:
        out = write_training_arrays(args.dataset, args.dtype, wait=args.wait)
    except (FileNotFoundError, ValueError, OutputLockedError) as e:
        print(f"error: {e}", flush=True)
        return 2
    print(f"datalist of the training arrays: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
