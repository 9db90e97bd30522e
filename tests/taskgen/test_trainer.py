"""The CRR trainer learns on the demo population (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.utils import set_determinism

from monai_fodgan.taskgen.data import load_gm_mask, taskgen_dataset
from monai_fodgan.taskgen.demo_population import PopulationSpec, make_population
from monai_fodgan.taskgen.losses import CRRLoss
from monai_fodgan.taskgen.networks import task_network
from monai_fodgan.taskgen.prepare import main as prepare
from monai_fodgan.taskgen.trainer import LOSS_KEYS, TaskMapTrainer

SPEC = PopulationSpec(voxel_mm=12.0, n_components=5, n_contrasts=3, n_runs=1, n_frames=60)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("taskgen_train")
    pop = make_population(root / "pop", n=6, spec=SPEC)
    g = pop / "group"
    assert prepare(["--table", str(pop / "subjects.tsv"), "--components", str(g / "components.nii.gz"),
                    "--mask", str(g / "brain_mask.nii.gz"), "--gm-mask", str(g / "gm_mask.nii.gz"),
                    "--out", str(root / "prep"), "--window", "30", "--val", "1"]) == 0
    return root / "prep"


def test_dataset_shapes(prepared):
    ds = taskgen_dataset(prepared)
    assert len(ds) == 5 * 2  # 5 training subjects x 2 windows
    item = ds[0]
    mask = load_gm_mask(prepared)
    assert item["image"].shape == (5, *mask.shape) and item["label"].shape == (3, *mask.shape)


def test_loss_falls(prepared):
    set_determinism(0)
    ds = taskgen_dataset(prepared)
    loader = DataLoader(ds, batch_size=4, shuffle=True, drop_last=True, num_workers=0)
    net = task_network("tiny", in_channels=5, out_channels=3)
    losses: list[dict] = []
    trainer = TaskMapTrainer("cpu", 12, loader, net, torch.optim.Adam(net.parameters(), 1e-2),
                             CRRLoss(load_gm_mask(prepared), alpha=0.25))
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(dict(e.state.output)))
    trainer.run()
    set_determinism(None)
    assert set(LOSS_KEYS) <= set(losses[0])
    first = np.mean([o["loss"] for o in losses[:2]])
    last = np.mean([o["loss"] for o in losses[-2:]])
    assert last < 0.5 * first, (first, last)
    print(f"CRR loss {first:.4f} -> {last:.4f} over {len(losses)} iterations")


def test_batch_of_one_is_refused(prepared):
    ds = taskgen_dataset(prepared)
    net = task_network("tiny", in_channels=5, out_channels=3)
    trainer = TaskMapTrainer("cpu", 1, DataLoader(ds, batch_size=1), net, torch.optim.Adam(net.parameters()),
                             CRRLoss(load_gm_mask(prepared)))
    with pytest.raises(ValueError, match="at least 2"):
        trainer.run()


def test_predict_cohort_averages_samples(prepared, tmp_path):
    import json

    import nibabel as nib

    from monai_fodgan.taskgen.inference import predict_cohort, predict_subject

    net = task_network("tiny", in_channels=5, out_channels=3).eval()
    paths = predict_cohort(net, prepared, tmp_path / "pred", split="validation")
    entry = json.loads((prepared / "datalist.json").read_text())["validation"][0]
    assert paths == [tmp_path / "pred" / f"{entry['subject']}_pred.nii.gz"]
    img = nib.load(str(paths[0]))
    mask = nib.load(str(prepared / "mask.nii.gz")).get_fdata() > 0
    assert img.shape == mask.shape + (3,)
    ones = [predict_subject(net, [prepared / s]) for s in entry["samples"]]
    np.testing.assert_allclose(img.get_fdata()[mask], torch.stack(ones).mean(0).permute(1, 2, 3, 0).numpy()[mask],
                               atol=1e-5)
