"""The training recipe's choices: normalisation modes, the paper's fixed rotated copies, the population brain mask
and the generator's output rules (mask, l = 0) and how weights files carry them."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from monai_fodgan.data import (
    copy_angles,
    population_mask,
    recipe_normalization,
    rotated_copies,
    training_list,
)
from monai_fodgan.data.synthetic import crossing_fibre_image, oblique_affine
from monai_fodgan.geometry import rotation_from_angles
from monai_fodgan.networks import FODGenerator
from monai_fodgan.sh import band_slices
from monai_fodgan.transforms import FixedSHRotated, SHNormalization, SHRotate


def _images(n: int = 3, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = rng.normal(0, 1, (28, 6, 5, 4)) * np.array([0.3, *[0.1] * 5, *[0.05] * 9, *[0.02] * 13])[:, None, None, None]
        img[:, 0] = 0  # a background slab
        out.append(img)
    return out


def test_normalisation_modes_match_hand_computed_quantiles() -> None:
    images = _images()
    brain = np.concatenate([im.reshape(28, -1)[:, im.reshape(28, -1)[0] != 0] for im in images], axis=1)
    per_band = SHNormalization.from_images(images, quantile=0.99, mode="per_band")
    for scale, sl in zip(per_band.scales, band_slices(6)):
        assert scale == pytest.approx(np.quantile(np.abs(brain[sl]), 0.99))
    glob = SHNormalization.from_images(images, quantile=0.99, mode="global")
    assert glob.scales == (pytest.approx(np.quantile(np.abs(brain), 0.99)),) * 4
    raw = SHNormalization.from_images(images, mode="raw")
    assert raw.scales == (1.0,) * 4 and raw == SHNormalization.raw(6).__class__(lmax=6, scales=(1.0,) * 4, n_images=3, mode="raw")
    x = torch.from_numpy(images[0])
    torch.testing.assert_close(raw.normalize(x), x)
    torch.testing.assert_close(glob.denormalize(glob.normalize(x)), x)
    assert per_band.scales[3] < per_band.scales[0] / 3  # per band rescales l = 6 far more than l = 0


def test_statistics_round_trip_and_older_files_are_per_band(tmp_path: Path) -> None:
    stats = SHNormalization.from_images(_images(), quantile=0.999, mode="global")
    assert SHNormalization.load(stats.save(tmp_path / "s.json")) == stats
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"lmax": 6, "scales": [0.3, 0.1, 0.05, 0.02], "quantile": 1.0, "n_images": 4}))
    assert SHNormalization.load(old).mode == "per_band"
    with pytest.raises(ValueError, match="mode"):
        SHNormalization(lmax=6, scales=(1.0,) * 4, mode="per_coefficient")


def _dataset(folder: Path, n: int = 4, shape: tuple[int, int, int] = (6, 5, 4)) -> Path:
    """n NIfTI FOD images whose brains are nested boxes (subject k's brain: x < 2 + k), and a datalist."""
    rng = np.random.default_rng(3)
    (folder / "fod").mkdir(parents=True)
    entries = []
    for k in range(n):
        fod = rng.normal(0, 0.05, shape + (28,))
        fod[..., 0] = np.abs(fod[..., 0]) + 0.1
        fod[2 + k:] = 0
        nib.save(nib.Nifti1Image(fod.astype(np.float32), np.diag([2.0, 2.0, 2.0, 1.0])), folder / "fod" / f"sub-{k}.nii.gz")
        entries.append({"image": f"fod/sub-{k}.nii.gz", "subject": f"sub-{k}"})
    (folder / "datalist.json").write_text(json.dumps({"lmax": 6, "training": entries, "validation": entries[:1]}))
    return folder / "datalist.json"


def test_recipe_normalisation_uses_the_file_only_when_it_matches(tmp_path: Path) -> None:
    datalist = _dataset(tmp_path)
    images = [np.moveaxis(nib.load(tmp_path / "fod" / f"sub-{k}.nii.gz").get_fdata(), -1, 0) for k in range(4)]
    stats_file = tmp_path / "sh_stats.json"
    SHNormalization.from_images(images, quantile=1.0).save(stats_file)
    assert recipe_normalization(stats_file, "per_band", 1.0, datalist) == SHNormalization.load(stats_file)
    recomputed = recipe_normalization(stats_file, "per_band", 0.9, datalist)
    expected = SHNormalization.from_images(images, quantile=0.9)
    np.testing.assert_allclose(recomputed.scales, expected.scales, rtol=1e-6)
    assert recipe_normalization(tmp_path / "missing.json", "raw", 0.5).scales == (1.0,) * 4
    with pytest.raises(ValueError, match="normalization_mode"):
        recipe_normalization(stats_file, "max", 1.0, datalist)
    with pytest.raises(ValueError, match="no datalist"):
        recipe_normalization(stats_file, "global", 0.99)


def test_rotated_copies_are_the_papers_five_fixed_copies(tmp_path: Path) -> None:
    datalist = _dataset(tmp_path)
    items = training_list(datalist, "copies", seed=0)
    assert len(items) == 20 and [e["copy"] for e in items[:5]] == [0, 1, 2, 3, 4]
    angles = np.array([e["rotation"] for e in items]).reshape(4, 5, 3)
    assert np.all(angles[:, 0] == 0)
    for axis in range(3):  # copy 1 + axis rotates about that axis only
        assert np.all(angles[:, 1 + axis, axis] != 0) and np.all(np.delete(angles[:, 1 + axis], axis, axis=1) == 0)
    assert np.all(angles[:, 4] != 0)
    assert training_list(datalist, "copies", seed=0) == items and training_list(datalist, "copies", seed=1) != items
    assert training_list(datalist, "none", seed=0) == training_list(datalist, "random", seed=0)
    with pytest.raises(ValueError, match="augmentation"):
        training_list(datalist, "mixup", seed=0)
    draws = np.array([copy_angles(0, s, 4) for s in range(3000)])
    assert np.rad2deg(draws.std(axis=0)) == pytest.approx([1.0, 1.0, 1.0], rel=0.06)
    assert rotated_copies([{"image": "a"}], seed=0)[0] == {"image": "a", "rotation": [0.0, 0.0, 0.0], "copy": 0}


def test_fixed_rotation_applies_the_items_angles() -> None:
    img = crossing_fibre_image((12, 10, 8), affine=oblique_affine(), lmax=6)
    angles = [0.0, np.deg2rad(20), np.deg2rad(-10)]
    out = FixedSHRotated("image")({"image": img, "rotation": angles})["image"]
    expected = SHRotate(rotation=rotation_from_angles(angles))(img)
    torch.testing.assert_close(out.as_tensor(), expected.as_tensor())
    assert not torch.allclose(out.as_tensor(), img.as_tensor(), atol=1e-3)
    same = FixedSHRotated("image")({"image": img, "rotation": [0.0, 0.0, 0.0]})["image"]
    assert torch.equal(same.as_tensor(), img.as_tensor())
    assert FixedSHRotated("image")({"image": img})["image"] is img


def test_population_mask_counts_each_subject_once(tmp_path: Path) -> None:
    datalist = _dataset(tmp_path)  # brains: x < 2, 3, 4, 5 of 6
    from monai_fodgan.data import load_datalist

    items = load_datalist(datalist, "training")
    mask = population_mask(items, 0.5)
    assert mask.shape == (6, 5, 4)
    assert mask[:4].all() and not mask[4:].any()  # x = 3 is brain in 2 of 4 (kept at 0.5), x = 4 in 1 of 4
    np.testing.assert_array_equal(population_mask(rotated_copies(items, 0), 0.5), mask)  # copies count once
    assert population_mask(items, 1.0)[:2].all() and not population_mask(items, 1.0)[2:].any()
    nib.save(nib.Nifti1Image(np.ones((3, 3, 3, 28), np.float32), np.eye(4)), tmp_path / "odd.nii.gz")
    with pytest.raises(ValueError, match="odd.nii.gz"):
        population_mask([*items, {"image": str(tmp_path / "odd.nii.gz")}])
    with pytest.raises(ValueError, match="mask_fraction"):
        population_mask(items, 0.0)


def test_generator_output_mask_zeroes_the_background_in_eager_and_torchscript() -> None:
    torch.manual_seed(0)
    g = FODGenerator(8, 28, (8, 8, 4), (16, 8, 4)).eval()
    z = torch.randn(2, 8)
    plain = g(z)
    assert not g.has_output_mask
    mask = torch.zeros(8, 8, 4, dtype=torch.bool)
    mask[2:6, 1:7, :3] = True
    g.set_output_mask(mask)
    assert g.has_output_mask and "output_mask" not in g.state_dict()
    out = g(z)
    assert torch.all(out[:, :, ~mask] == 0)
    torch.testing.assert_close(out[:, :, mask], plain[:, :, mask])
    scripted = torch.jit.script(g)
    torch.testing.assert_close(scripted(z), out)
    with pytest.raises(ValueError, match="grid"):
        g.set_output_mask(torch.ones(8, 8, 8))
    torch.testing.assert_close(g.set_output_mask(None)(z), plain)


def test_nonnegative_l0_output_is_the_absolute_l0_in_eager_and_torchscript_and_trains() -> None:
    torch.manual_seed(0)
    g = FODGenerator(8, 28, (8, 8, 4), (16, 8, 4)).eval()
    z = torch.randn(2, 8)
    plain = g(z)
    assert (plain[:, 0] < 0).any()  # tanh alone puts l = 0 below zero
    paper_repr = repr(g)
    g.set_l0_output("nonnegative")
    out = g(z)
    torch.testing.assert_close(out[:, 0], plain[:, 0].abs())
    torch.testing.assert_close(out[:, 1:], plain[:, 1:])
    assert "l0_output" not in g.state_dict() and repr(g) != paper_repr  # a checkpoint's config hash tells them apart
    torch.testing.assert_close(torch.jit.script(g)(z), out)
    with pytest.raises(ValueError, match="l0_output"):
        g.set_l0_output("relu")
    assert repr(g.set_l0_output(None)) == paper_repr
    torch.testing.assert_close(g(z), plain)
    g.set_l0_output("nonnegative").train()  # gradients reach the last layer through |tanh|
    g(z)[:, 0].sum().backward()
    assert g.body[-2].weight.grad.abs().sum() > 0


def test_output_rules_survive_a_weights_file_into_load_weights_and_the_export_module(tmp_path: Path) -> None:
    """The mask and the l = 0 rule are not in the state_dict: a weights file carries them under their own keys, and
    both readers (load_weights for the bundle and Python API, FODSynthesizer for export) restore the same function."""
    from monai_fodgan.inference import load_weights
    from monai_fodgan.inference.export import FODSynthesizer
    from monai_fodgan.networks.generator import OUTPUT_RULE_KEYS

    torch.manual_seed(0)
    g = FODGenerator(8, 28, (8, 8, 4), (16, 8, 4)).eval()
    assert g.output_rules() == {"brain_mask": None, "l0_output": "tanh"}  # the paper's
    mask = torch.zeros(8, 8, 4, dtype=torch.bool)
    mask[1:7, 2:6, 1:] = True
    g.set_output_rules({"brain_mask": mask, "l0_output": "nonnegative"})
    rules = g.output_rules()
    assert set(rules) == set(OUTPUT_RULE_KEYS) and rules["l0_output"] == "nonnegative"
    torch.testing.assert_close(rules["brain_mask"], mask)
    z = torch.randn(2, 8)
    expected = g(z)
    stats = SHNormalization(lmax=6, scales=(1.0, 1.0, 1.0, 1.0), mode="global")
    path = tmp_path / "model.pt"
    torch.save({"model": g.state_dict(), "normalization": stats.to_dict(), **rules}, path)

    fresh = FODGenerator(8, 28, (8, 8, 4), (16, 8, 4))
    torch.testing.assert_close(load_weights(path, fresh).generator(z), expected)
    synth = FODSynthesizer(FODGenerator(8, 28, (8, 8, 4), (16, 8, 4)))
    synth.load_state_dict(torch.load(path, weights_only=True))
    assert synth.generator.output_rules()["l0_output"] == "nonnegative"
    torch.testing.assert_close(synth.generator.output_rules()["brain_mask"], mask)
    assert torch.all(synth(z)[:, :, ~mask] == 0) and torch.all(synth(z)[:, 0] >= 0)

    torch.save({"model": g.state_dict(), "brain_mask": torch.ones(8, 8, 8, dtype=torch.bool)}, path)
    with pytest.raises(ValueError, match=r"model\.pt: brain_mask does not fit the generator"):
        load_weights(path, FODGenerator(8, 28, (8, 8, 4), (16, 8, 4)))
