"""NormalizeSHd: dataset statistics map into [-1, 1], the inverse is exact, JSON round trip, rotation commutes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.transforms import Invertd

from monai_fodgan.data import crossing_fibre_image, oblique_affine
from monai_fodgan.geometry import rotation_from_angles
from monai_fodgan.sh import band_slices
from monai_fodgan.transforms import NormalizeSH, NormalizeSHd, SHNormalization, SHRotate


def _dataset() -> list:
    return [crossing_fibre_image(shape=(10, 10, 8), lmax=6, crossing_angle_deg=a, iso_fraction=0.05 * i)
            for i, a in enumerate((50.0, 70.0, 90.0))]


def test_range_and_exact_inverse(tmp_path: Path) -> None:
    images = _dataset()
    stats = SHNormalization.from_images(images)
    assert stats.lmax == 6 and stats.n_images == 3 and len(stats.scales) == 4
    t = NormalizeSHd("image", stats)
    for img in images:
        out = t({"image": img})
        assert float(out["image"].abs().max()) <= 1.0 + 1e-6
        back = Invertd("image", t, orig_keys="image")(out)["image"]
        torch.testing.assert_close(back.as_tensor(), img.as_tensor(), atol=0, rtol=1e-6)
    # each band reaches 1 somewhere in the dataset
    channel_max = np.max([NormalizeSH(stats)(img).abs().amax(dim=(1, 2, 3)).numpy() for img in images], axis=0)
    for sl in band_slices(6):
        assert channel_max[sl].max() == pytest.approx(1.0, abs=1e-6)


def test_json_round_trip(tmp_path: Path) -> None:
    stats = SHNormalization.from_images(_dataset(), quantile=0.99)
    path = stats.save(tmp_path / "sh_stats.json")
    assert SHNormalization.load(path) == stats
    img = _dataset()[0]
    torch.testing.assert_close(NormalizeSH(str(path))(img), NormalizeSH(stats)(img))


def test_bad_stats_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"lmax": 6, "scales": [1.0]}')
    with pytest.raises(ValueError, match="bad.json"):
        SHNormalization.load(bad)


def test_normalisation_commutes_with_rotation() -> None:
    img = crossing_fibre_image(shape=(10, 10, 8), lmax=6, affine=oblique_affine())
    stats = SHNormalization.from_images([img])
    rot = SHRotate(rotation=rotation_from_angles([0.2, -0.1, 0.3]))
    a = NormalizeSH(stats)(rot(img))
    b = rot(NormalizeSH(stats)(img))
    torch.testing.assert_close(a.as_tensor(), b.as_tensor(), atol=1e-6, rtol=0)


def test_truncated_image_uses_lower_bands() -> None:
    stats = SHNormalization(lmax=8, scales=(2.0, 1.0, 0.5, 0.25, 0.125))
    scales = stats.channel_scales(28)
    assert scales.shape == (28,) and scales[0] == 2.0 and scales[27] == 0.25
    with pytest.raises(ValueError, match="lmax 8"):
        SHNormalization(lmax=6, scales=(1.0, 1.0, 1.0, 1.0)).channel_scales(45)
