"""Slice figures are drawn in mm: a cube of anisotropic voxels must come out square, not stretched."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from scipy import ndimage

from monai_fodgan.visualize import plot_coefficient_slices, plot_fod_slices, slice_aspect, voxel_sizes


def _cube(shape: tuple[int, int, int], voxel_mm: tuple[float, float, float]) -> MetaTensor:
    """An lmax 2 FOD volume whose l = 0 is 1 inside and 0 on a one-voxel border; the whole volume is a cube in mm."""
    img = torch.zeros((6, *shape))
    img[0, 1:-1, 1:-1, 1:-1] = 1.0
    return MetaTensor(img, affine=torch.diag(torch.tensor([*voxel_mm, 1.0], dtype=torch.float64)))


def _dark_box(png: np.ndarray, columns: slice) -> tuple[int, int]:
    """(height, width) in pixels of the image's black zero border (the largest connected dark region, so title text
    does not count) in a column range of the PNG."""
    grey = png[..., :3].mean(axis=-1)[:, columns]
    labels, n = ndimage.label(grey < 0.05)
    largest = 1 + int(np.argmax(ndimage.sum_labels(np.ones_like(grey), labels, range(1, n + 1))))
    rows, cols = np.nonzero(labels == largest)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_voxel_sizes_from_rotated_affine():
    """Voxel sizes are the affine's column norms, also for an oblique grid; explicit sizes win; bad sizes are refused."""
    c, s = np.cos(0.4), np.sin(0.4)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([2.0, 3.0, 5.0])
    img = MetaTensor(torch.zeros(1, 2, 2, 2), affine=torch.as_tensor(affine))
    np.testing.assert_allclose(voxel_sizes(img), (2.0, 3.0, 5.0), rtol=1e-12)
    assert voxel_sizes(torch.zeros(1, 2, 2, 2)) == (1.0, 1.0, 1.0)
    assert voxel_sizes(img, (1, 1, 4)) == (1.0, 1.0, 4.0)
    with pytest.raises(ValueError, match="voxel_size"):
        voxel_sizes(img, (1.0, 0.0, 1.0))
    # axial shows x (columns) against y (rows); coronal x against z; sagittal y against z
    assert slice_aspect("axial", (2.0, 3.0, 5.0)) == pytest.approx(1.5)
    assert slice_aspect("coronal", (2.0, 3.0, 5.0)) == pytest.approx(2.5)
    assert slice_aspect("sagittal", (2.0, 3.0, 5.0)) == pytest.approx(5.0 / 3.0)


@pytest.mark.parametrize("plane", ["coronal", "sagittal"])
def test_anisotropic_cube_is_drawn_square(tmp_path, plane):
    """20 x 20 x 20 mm made of 2 x 2 x 4 mm voxels (10 x 10 x 5): the panel's image is square in pixels."""
    cube = _cube((10, 10, 5), (2.0, 2.0, 4.0))
    png = mpimg.imread(plot_fod_slices([cube], ["cube"], tmp_path / "fod.png", planes=(plane,)))
    height, width = _dark_box(png, slice(0, png.shape[1] // 2))  # the l = 0 panel
    assert abs(height - width) <= 2, (height, width)
    png = mpimg.imread(plot_coefficient_slices([cube], [0], tmp_path / "coeff.png", planes=(plane,)))
    height, width = _dark_box(png, slice(0, png.shape[1]))
    assert abs(height - width) <= 2, (height, width)
    # the same volume given as 1 mm voxels is drawn 2:1, as its voxel counts say
    png = mpimg.imread(plot_fod_slices([cube], ["cube"], tmp_path / "iso.png", planes=(plane,), voxel_size=(1, 1, 1)))
    height, width = _dark_box(png, slice(0, png.shape[1] // 2))
    assert width == pytest.approx(2 * height, rel=0.1), (height, width)


def test_coefficient_labels_count_volumes_from_one_with_l_and_m() -> None:
    from monai_fodgan.visualize import coefficient_label

    assert [coefficient_label(c) for c in (0, 3, 10, 27)] == [
        "volume 1 (l=0, m=0)", "volume 4 (l=2, m=0)", "volume 11 (l=4, m=0)", "volume 28 (l=6, m=6)"]
