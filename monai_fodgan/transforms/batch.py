"""Random SH rotation of a whole training batch on its device (the GPU), drawing what the loader would have drawn.

Rotating a paper-size image (28 x 128 x 128 x 64) in a loader worker costs about a second of CPU; 30 images per
iteration would need dozens of workers. On the GPU the same trilinear resampling and per-voxel coefficient
rotation of a batch takes milliseconds. The angles are drawn exactly as the loader's augmentation draws them:
the same transform object, seeded per stream position with :func:`monai_fodgan.data.stream.augmentation_seed`,
so a run with augmentation on the device sees the same rotations as one with it in the workers (and a resumed
run the same as an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.transforms import Randomizable

from monai_fodgan.data.stream import augmentation_seed
from monai_fodgan.transforms.dictionary import RandSHRotated
from monai_fodgan.transforms.functional import rotate_fod_image

__all__ = ["BatchRandSHRotate"]


def _find_rotation(transform: Randomizable) -> RandSHRotated:
    if isinstance(transform, RandSHRotated):
        return transform
    for t in getattr(transform, "transforms", ()):
        if isinstance(t, RandSHRotated):
            return t
    raise TypeError(f"{type(transform).__name__} holds no RandSHRotated to draw rotations from.")


class BatchRandSHRotate:
    """``f(images, positions) -> images``: each sample rotated by the rotation ``transform`` draws for its position.

    Args:
        transform: the loader-side augmentation (a :class:`RandSHRotated`, or a ``Compose`` holding one, as the
            bundle's ``train#augmentation``); seeded per position exactly as :class:`FODStreamDataset` seeds it.
        affine: (4, 4) voxel-to-world matrix of the training grid (all training images share it).
        seed: the dataset's seed.
        mode, padding_mode: interpolation, as :func:`monai_fodgan.transforms.rotate_fod_image`.

    Example::

        >>> rotate = BatchRandSHRotate(paper_rotation("image"), affine, seed=0)
        >>> images = rotate(batch["image"].cuda(), batch["position"])   # (B, 28, X, Y, Z)
    """

    def __init__(self, transform: Randomizable, affine: torch.Tensor | np.ndarray | Sequence, seed: int = 0,
                 mode: str = "bilinear", padding_mode: str = "zeros") -> None:
        self.transform = transform
        self.rotation = _find_rotation(transform)
        self.affine = torch.as_tensor(np.asarray(affine, dtype=np.float64))
        self.seed = int(seed)
        self.mode, self.padding_mode = mode, padding_mode

    def rotations(self, positions: Sequence[int]) -> list[torch.Tensor | None]:
        """Per position, the (3, 3) rotation drawn, or None where none is applied (probability or a zero angle)."""
        out: list[torch.Tensor | None] = []
        for p in positions:
            self.transform.set_random_state(seed=augmentation_seed(self.seed, int(p)))
            self.rotation.randomize()
            if not self.rotation._do_transform:
                out.append(None)
                continue
            r = self.rotation.rand_rotate.rotation_matrix()
            out.append(None if torch.equal(r, torch.eye(3, dtype=r.dtype)) else r)
        return out

    def __call__(self, images: torch.Tensor, positions: torch.Tensor | Sequence[int] | None) -> torch.Tensor:
        """Rotate a (B, C, X, Y, Z) batch on its device; samples that draw no rotation are left as they are."""
        if positions is None:
            raise ValueError("rotation on the device needs each sample's stream position (the batch's 'position' entry).")
        positions = [int(p) for p in (positions.tolist() if isinstance(positions, torch.Tensor) else positions)]
        if len(positions) != images.shape[0]:
            raise ValueError(f"{len(positions)} positions for a batch of {images.shape[0]} images.")
        drawn = self.rotations(positions)
        rotate = [i for i, r in enumerate(drawn) if r is not None]
        if not rotate:
            return images
        r = torch.stack([drawn[i] for i in rotate]).to(images.device)
        moved = rotate_fod_image(images[rotate], self.affine.to(images.device), r, mode=self.mode,
                                 padding_mode=self.padding_mode)
        out = images.clone()
        out[rotate] = moved.to(images.dtype)
        return out
