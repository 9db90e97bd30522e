"""The synthetic rest/task population: deterministic, well-formed, and individual where it should be."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np

from monai_fodgan.taskgen.connectivity import connectivity_maps, dual_regression_stage1, masked_timeseries
from monai_fodgan.taskgen.demo_population import PopulationSpec, group_model, make_population, make_subject

SPEC = PopulationSpec(voxel_mm=12.0, n_components=6, n_contrasts=3, n_runs=2, n_frames=100)


def test_group_model_is_a_cropped_mni_grid():
    g = group_model(SPEC)
    assert g.maps.shape == g.brain.shape + (6,)
    assert np.allclose(np.diag(g.affine)[:3], 12.0)
    assert g.brain.any() and (g.gm <= g.brain).all()
    # cropped to the brain: a one-voxel empty margin, no more than two
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        profile = g.brain.any(axis=other)
        assert not profile[0] and not profile[-1] and profile[1:3].any() and profile[-3:-1].any()
    assert np.linalg.matrix_rank(g.maps[g.brain]) == 6
    assert all(g.network_regions)


def test_subject_is_deterministic_and_shaped():
    a, b = make_subject(3, SPEC), make_subject(3, SPEC)
    np.testing.assert_array_equal(a.runs[1], b.runs[1])
    np.testing.assert_array_equal(a.task, b.task)
    g = group_model(SPEC)
    assert len(a.runs) == 2 and a.runs[0].shape == g.brain.shape + (100,) and a.runs[0].dtype == np.float32
    assert a.task.shape == g.brain.shape + (3,)
    assert np.all(a.runs[0][~g.brain] == 0) and np.all(a.task[~g.brain] == 0)
    assert not np.array_equal(make_subject(4, SPEC).task, a.task)


def test_rest_connectivity_is_individual():
    """Each subject's run-1 connectivity (minus the group mean) resembles its own run 2 more than the others'."""
    g = group_model(SPEC)
    maps = g.maps[g.brain]
    per_run = [[], []]
    for k in range(1, 6):
        for r, run in enumerate(make_subject(k, SPEC).runs):
            x = masked_timeseries(run, g.brain)
            per_run[r].append(connectivity_maps(x, dual_regression_stage1(x, maps)).ravel())
    dev = [np.array(p) - np.mean(p, axis=0) for p in per_run]
    similarity = np.corrcoef(dev[0], dev[1])[:5, 5:]
    off = (similarity.sum() - np.trace(similarity)) / 20
    assert np.trace(similarity) / 5 - off > 0.25


def test_population_files(tmp_path):
    out = make_population(tmp_path / "pop", n=2, spec=SPEC)
    rows = (out / "subjects.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["subject", "rest", "task"] and len(rows) == 3
    subject, rest, task = rows[1].split("\t")
    runs = rest.split(";")
    assert subject == "sub-0001" and len(runs) == 2
    img = nib.load(str(out / runs[0]))
    assert img.shape[3] == 100 and np.allclose(img.affine, group_model(SPEC).affine)
    assert nib.load(str(out / task)).shape[3] == 3
    assert nib.load(str(out / "group" / "components.nii.gz")).shape[3] == 6
    meta = json.loads((out / "population.json").read_text())
    assert meta["n"] == 2 and meta["spec"]["n_components"] == 6
    header = (out / "participants.tsv").read_text().splitlines()[0].split("\t")
    assert header[:2] == ["participant_id", "phenotype"]
