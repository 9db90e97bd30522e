"""Atlas in subject space, known answers from the phantom population (brains in MNI space with known AAL labels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monai_fodgan.data.phantom import make_subject
from monai_fodgan.evaluation.atlas import DEFAULT_TRACTS, region_names
from monai_fodgan.evaluation.registration import atlas_in_mni, label_dice, load_template, register_atlas
from monai_fodgan.evaluation.subjects import afd_map


def test_subject_in_mni_space_gets_exactly_its_labels() -> None:
    subject = make_subject(1, (32, 32, 16), seed=3, variation=0.0)  # the template brain itself: no warp
    atlas = atlas_in_mni(DEFAULT_TRACTS, (32, 32, 16), subject.affine, afd_map(subject.fod), load_template("phantom"))
    np.testing.assert_array_equal(atlas.aal * subject.mask, subject.aal)
    assert atlas.quality["correlation"] > 0.95  # its own AFD, smoothed to the 2 mm template grid and back
    assert atlas.regions.shape == (len(region_names(DEFAULT_TRACTS)), 32, 32, 16)


@pytest.fixture(scope="module")
def warped_subject():
    return make_subject(1, (64, 64, 32), seed=3)  # a subject warped away from MNI (affine + smooth warp)


@pytest.mark.parametrize("template, syn, minimum", [("phantom", True, 0.85), ("mni-wm", False, 0.8)])
def test_registration_recovers_the_phantom_warp(warped_subject, template: str, syn: bool, minimum: float) -> None:
    s = warped_subject
    unregistered = np.nanmean(label_dice(atlas_in_mni(("CC",), s.fod.shape[:3], s.affine).aal, s.aal))
    atlas = register_atlas(afd_map(s.fod), s.affine, ("CC",), load_template(template), syn=syn)
    registered = np.nanmean(label_dice(atlas.aal * s.mask, s.aal))
    print(f"\nAAL label Dice vs the phantom's known labels ({template}, {atlas.method}): {registered:.3f}; "
          f"without registration {unregistered:.3f}")
    assert unregistered < 0.6
    assert registered >= minimum and registered > unregistered + 0.2
    assert atlas.quality["correlation"] > atlas.quality["correlation_before"]


def test_bad_templates_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.nii.gz"):
        load_template(tmp_path / "nope.nii.gz")
    with pytest.raises(ValueError, match="no positive voxel"):
        register_atlas(np.zeros((16, 16, 8)), np.eye(4), ("CC",), load_template("mni-wm"))
