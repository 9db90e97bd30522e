"""An endless, resumable stream of training samples for iteration-based GAN training.

The alpha-WGAN trains for a number of iterations (the paper: 37,000), each consuming ``1 + n_critic``
real batches, not for epochs over the data. Sample ``p`` of the stream is a pure function of ``p`` and
the seed: pass ``p // n`` over the ``n`` subjects in a seeded permutation, and the random augmentation
seeded by ``(seed, p)``. So a resumed run sees exactly the samples the uninterrupted run would have seen,
whatever the number of loader workers, and each of several ranks reads its own interleaved share.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.transforms import Randomizable
from torch.utils.data import Dataset, Sampler

from monai_fodgan.sh import n_coeffs
from monai_fodgan.validation import FODValidationError

__all__ = ["FODStreamDataset", "StreamSampler", "augmentation_seed", "check_datalist", "grid_affine", "image_grid"]


def check_datalist(data: Sequence[Mapping[Hashable, Any]], key: str = "image", lmax: int | None = None,
                   spatial_shape: Sequence[int] | None = None, source: str = "datalist") -> None:
    """Check every entry's file before training: it exists, is a 4D image with enough SH volumes for
    ``lmax`` and the training grid. Reads headers only (values are checked when loaded).

    Raises:
        FODValidationError: the list is empty, or an entry is bad (the message names the file and the problem).
    """
    if len(data) == 0:
        raise FODValidationError(f"{source}: the training list is empty; nothing to train on.")
    for i, item in enumerate(data):
        if key not in item:
            raise FODValidationError(f"{source}: entry {i} has no {key!r} key: {dict(item)}.")
        path = Path(item[key])
        if not path.is_file():
            raise FODValidationError(f"{path}: no such file (entry {i} of {source}).")
        if path.suffix == ".mif" or path.name.endswith(".mif.gz"):
            continue  # MRtrix3 images are checked when converted
        try:
            if path.suffix == ".npy":  # a training array (C, X, Y, Z): the header only, through a memory map
                c, *xyz = np.load(path, mmap_mode="r").shape
                shape = (*xyz, c)
            else:
                shape = nib.load(str(path)).shape
        except Exception as e:  # nibabel and numpy raise several types for unreadable files
            kind = "training array (.npy)" if path.suffix == ".npy" else "NIfTI image"
            raise FODValidationError(f"{path}: not a readable {kind} ({e}).") from None
        if len(shape) != 4:
            raise FODValidationError(f"{path}: expected a 4D FOD image, got shape {shape}.")
        if lmax is not None and shape[3] < n_coeffs(lmax):
            raise FODValidationError(
                f"{path}: has {shape[3]} SH volumes, the model needs lmax {lmax} ({n_coeffs(lmax)} volumes).")
        if spatial_shape is not None and tuple(shape[:3]) != tuple(spatial_shape):
            raise FODValidationError(
                f"{path}: grid {tuple(shape[:3])} differs from the training grid {tuple(spatial_shape)}; "
                "prepare the cohort onto one grid first (monai-fodgan-prepare).")


def image_grid(path: str | Path) -> tuple[np.ndarray, tuple[int, ...]]:
    """(4, 4) voxel-to-world matrix and spatial shape (X, Y, Z) of a training image, from its header only
    (NIfTI) or its training arrays' ``grid.json`` (``.npy``)."""
    path = Path(path)
    if path.suffix == ".npy":
        import json

        grid = json.loads((path.parent / "grid.json").read_text())
        return np.asarray(grid["affine"], dtype=np.float64), tuple(int(s) for s in grid["spatial_shape"])
    header = nib.load(str(path))
    return np.asarray(header.affine, dtype=np.float64), tuple(int(s) for s in header.shape[:3])


def grid_affine(path: str | Path) -> np.ndarray:
    """(4, 4) voxel-to-world matrix of a training image (see :func:`image_grid`)."""
    return image_grid(path)[0]


def _seed(*parts: int) -> int:
    return zlib.crc32(np.asarray(parts, dtype=np.int64).tobytes())


def augmentation_seed(seed: int, position: int) -> int:
    """Seed of the random augmentation of stream position ``position`` (in the loader or on the device)."""
    return _seed(seed, 1, position) % (2**32)


class FODStreamDataset(Dataset):
    """Map-style dataset indexed by stream position: item ``p`` is subject ``perm(p // n)[p % n]`` after
    ``transform`` (deterministic, cached in memory when ``cache``) and ``random_transform`` (seeded per ``p``),
    with ``p`` itself under the key ``position``.

    Args:
        data: list of dicts with an ``image`` path (``datalist.json``'s ``training`` list).
        transform: deterministic preprocessing (load, validate, normalise).
        random_transform: augmentation (e.g. the paper's rotation); ``set_random_state`` is called per sample.
        seed: seed of the subject order and of the augmentation.
        cache: keep preprocessed subjects in memory (the demo; a cohort of HCP size does not fit).
        lmax, spatial_shape: checked for every file before anything is loaded (see :func:`check_datalist`).
    """

    def __init__(self, data: Sequence[Mapping[Hashable, Any]], transform: Callable | None = None,
                 random_transform: Callable | None = None, seed: int = 0, cache: bool = True,
                 lmax: int | None = None, spatial_shape: Sequence[int] | None = None, key: str = "image") -> None:
        self.data = list(data)
        check_datalist(self.data, key, lmax, spatial_shape)
        self.transform = transform
        self.random_transform = random_transform
        self.seed = int(seed)
        self._cache = [self._prepare(i) for i in range(len(self.data))] if cache else None
        self._perm: tuple[int, np.ndarray] | None = None

    def _prepare(self, index: int) -> Mapping[Hashable, Any]:
        item = dict(self.data[index])
        return self.transform(item) if self.transform is not None else item

    def subject(self, position: int) -> int:
        """Index into ``data`` of stream position ``position``."""
        n = len(self.data)
        epoch = position // n
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng(_seed(self.seed, epoch)).permutation(n))
        return int(self._perm[1][position % n])

    def __len__(self) -> int:
        """Number of subjects (the stream itself is endless)."""
        return len(self.data)

    def __getitem__(self, position: int) -> Mapping[Hashable, Any]:
        index = self.subject(int(position))
        item = dict(self._cache[index]) if self._cache is not None else self._prepare(index)
        if self.random_transform is not None:
            if isinstance(self.random_transform, Randomizable):
                self.random_transform.set_random_state(seed=augmentation_seed(self.seed, int(position)))
            item = self.random_transform(item)
        item["position"] = int(position)  # what augmentation on the device seeds its draw with
        return item


class StreamSampler(Sampler[int]):
    """Endless stream positions for one rank, starting where a resumed run left off.

    Rank ``r`` of ``w`` reads positions ``r, r + w, r + 2w, ...``; :meth:`set_iteration` moves the start to
    the first sample of a given training iteration (the trainer calls it before the loader is iterated).

    Args:
        samples_per_iteration: samples one rank consumes per iteration (batch size x (1 + n_critic)).
        rank, world_size: this process's place in distributed training (default: single process, or the
            initialised process group's).
    """

    def __init__(self, samples_per_iteration: int, rank: int | None = None, world_size: int | None = None) -> None:
        dist = torch.distributed
        initialised = dist.is_available() and dist.is_initialized()
        self.rank = rank if rank is not None else (dist.get_rank() if initialised else 0)
        self.world_size = world_size if world_size is not None else (dist.get_world_size() if initialised else 1)
        self.samples_per_iteration = int(samples_per_iteration)
        self.start = 0

    def set_iteration(self, iteration: int) -> None:
        """Start the next iterator at training iteration ``iteration``."""
        self.start = int(iteration) * self.samples_per_iteration

    def __iter__(self):
        i = self.start
        while True:
            yield i * self.world_size + self.rank
            i += 1
