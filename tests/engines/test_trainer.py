"""The alpha-WGAN trainer on a toy cohort: the paper's schedule, the reconstruction through the encoder,
losses that move the right way, mixed precision, and the NaN guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader, load_decathlon_datalist
from monai.transforms import Compose, EnsureTyped, SelectItemsd
from monai.utils import set_determinism

from monai_fodgan.data import FODStreamDataset, StreamSampler
from monai_fodgan.engines import AlphaWGANCheckpoint, AlphaWGANTrainer, NaNGuard, NonFiniteLossError
from monai_fodgan.engines.handlers import scalars
from monai_fodgan.networks import build_alpha_wgan
from monai_fodgan.transforms import LoadFODd, NormalizeSHd, SHNormalization
from tests.conftest import TINY_SHAPE


def make_trainer(dataset_dir: Path, iterations: int, batch_size: int = 2, n_critic: int = 4, handlers: list | None = None,
                 precision: str = "fp32", lr: float = 1e-4, epoch_length: int = 2) -> AlphaWGANTrainer:
    set_determinism(seed=0)
    stats = SHNormalization.load(dataset_dir / "sh_stats.json")
    data = load_decathlon_datalist(str(dataset_dir / "datalist.json"), False, "training")
    pre = Compose([LoadFODd("image", lmax=6), NormalizeSHd("image", stats), SelectItemsd(["image"]),
                   EnsureTyped("image", track_meta=False)])
    dataset = FODStreamDataset(data, pre, seed=0, lmax=6, spatial_shape=TINY_SHAPE)
    per_iteration = batch_size * (1 + n_critic)
    loader = DataLoader(dataset, batch_size=per_iteration, sampler=StreamSampler(per_iteration), num_workers=0)
    nets = build_alpha_wgan("tiny", TINY_SHAPE)
    opts = [torch.optim.Adam(nets[k].parameters(), lr, betas=(0.5, 0.999)) for k in ("generator", "critic", "encoder", "code_critic")]
    return AlphaWGANTrainer("cpu", None, loader, nets["generator"], nets["critic"], nets["encoder"], nets["code_critic"],
                            *opts, epoch_length=epoch_length, batch_size=batch_size, n_critic=n_critic,
                            max_iterations=iterations, precision=precision, train_handlers=handlers)


def _adam_steps(opt: torch.optim.Optimizer) -> int:
    return int(next(iter(opt.state.values()))["step"])


def test_one_iteration_follows_the_paper_schedule(tiny_fod_dataset: Path) -> None:
    trainer = make_trainer(tiny_fod_dataset, iterations=1)
    trainer.run()
    # one backward of L_GE: E steps once and G twice; four critic steps; one code-critic step
    assert _adam_steps(trainer.g_optimizer) == 2
    assert _adam_steps(trainer.e_optimizer) == 1
    assert _adam_steps(trainer.d_optimizer) == 4
    assert _adam_steps(trainer.cd_optimizer) == 1
    assert isinstance(trainer.state.output, list)  # MONAI's decollated form: from_engine(["loss"], first=True) works
    out = trainer.state.output[0]
    assert set(out) >= {"loss_ge", "recon_l1", "loss_d", "d_real", "d_syn", "d_dec", "gp_d", "loss_cd", "gp_cd", "wasserstein"}
    assert out["loss_d"].item() == pytest.approx(
        (out["d_dec"] + out["d_syn"] - 2 * out["d_real"] + 10 * out["gp_d"]).item(), rel=1e-5)


def test_reconstruction_goes_through_the_encoder(tiny_fod_dataset: Path) -> None:
    # silence both critics (zero last layers): the only gradient of L_GE left is lambda |x - G(E(x))|, which
    # reaches E only if the reconstruction is G(E(x)) (the published code's G(z_r) would leave E unchanged)
    trainer = make_trainer(tiny_fod_dataset, iterations=1)
    for last in (trainer.critic.net[-1], trainer.code_critic.net[-1]):
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)
    before = [p.detach().clone() for p in trainer.encoder.parameters()]
    trainer.run()
    changed = [not torch.equal(b, p) for b, p in zip(before, trainer.encoder.parameters())]
    assert all(changed)


def test_losses_move_the_right_way(tiny_fod_dataset: Path) -> None:
    history: list[dict[str, float]] = []
    trainer = make_trainer(tiny_fod_dataset, iterations=30, lr=5e-4)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: history.append(scalars(e.state.output)))
    trainer.run()
    first = sum(h["recon_l1"] for h in history[:3]) / 3
    last = sum(h["recon_l1"] for h in history[-3:]) / 3
    assert last < 0.7 * first  # the encoder-generator pair learns to reconstruct
    # the critic separates real from generated images (positive Wasserstein estimate) once it has trained
    assert sum(h["wasserstein"] for h in history[-5:]) / 5 > 0


def test_bf16_autocast_iterations_are_finite(tiny_fod_dataset: Path) -> None:
    trainer = make_trainer(tiny_fod_dataset, iterations=2, precision="bf16")
    trainer.run()
    assert all(torch.isfinite(v) for v in trainer.state.output[0].values())


def test_loader_batch_of_wrong_size_is_rejected(tiny_fod_dataset: Path) -> None:
    trainer = make_trainer(tiny_fod_dataset, iterations=1)
    with pytest.raises(ValueError, match=r"batch_size x \(1 \+ n_critic\) = 10"):
        trainer._iteration(trainer, {"image": torch.zeros(4, 28, *TINY_SHAPE)})


def test_nan_guard_names_the_term_and_keeps_last_good_checkpoint(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    ckpt = AlphaWGANCheckpoint(tmp_path / "ckpt", final_file=tmp_path / "model.pt", resume=False)
    trainer = make_trainer(tiny_fod_dataset, iterations=6, handlers=[NaNGuard(), ckpt])

    def poison(engine: AlphaWGANTrainer) -> None:  # a diverged generator after iteration 3
        if engine.state.iteration == 3:
            with torch.no_grad():
                engine.generator.head[0].weight.fill_(float("nan"))

    trainer.add_event_handler(Events.ITERATION_COMPLETED, poison)
    with pytest.raises(NonFiniteLossError, match=r"iteration 4: non-finite .*loss_ge"):
        trainer.run()
    assert [p.name for p in ckpt.checkpoints()] == ["checkpoint_00000002.pt"]
    assert not (tmp_path / "model.pt").exists()
    good = torch.load(tmp_path / "ckpt" / "checkpoint_00000002.pt", weights_only=True)
    assert all(torch.isfinite(t).all() for t in good["model"].values() if t.is_floating_point())


def test_checkpoint_round_trip_restores_everything(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    ckpt = AlphaWGANCheckpoint(tmp_path / "ckpt", final_file=tmp_path / "model.pt", n_saved=2,
                               normalization=tiny_fod_dataset / "sh_stats.json",
                               reference_image=tiny_fod_dataset / "fod" / "sub-0001.nii.gz")
    trainer = make_trainer(tiny_fod_dataset, iterations=6, handlers=[ckpt])
    trainer.run()
    assert [p.name for p in ckpt.checkpoints()] == ["checkpoint_00000004.pt", "checkpoint_00000006.pt"]
    state = torch.load(tmp_path / "ckpt" / "checkpoint_00000006.pt", weights_only=True)
    assert state["trainer"]["iteration"] == 6
    assert set(state) >= {"model", "critic", "encoder", "code_critic", "g_optimizer", "d_optimizer", "e_optimizer",
                          "cd_optimizer", "rng", "normalization", "config_hash", "grid"}
    assert state["grid"]["spatial_shape"] == list(TINY_SHAPE)
    final = torch.load(tmp_path / "model.pt", weights_only=True)
    assert set(final) == {"model", "encoder", "normalization", "grid", "brain_mask", "l0_output", "config_hash", "hyperparameters", "trainer"}
    for k, v in final["model"].items():
        assert torch.equal(v, trainer.generator.state_dict()[k])
    # a run with another lambda refuses to resume from it
    other = make_trainer(tiny_fod_dataset, iterations=8, handlers=[AlphaWGANCheckpoint(tmp_path / "ckpt")])
    other.recon_weight = 10.0
    with pytest.raises(ValueError, match="other hyperparameters"):
        other.run()


def test_tensorboard_scalars_equal_the_loss_log(tiny_fod_dataset: Path, tmp_path: Path) -> None:
    """TensorBoardLosses (MONAI's TensorBoardStatsHandler) writes every term of losses.jsonl as train/<term>, at the
    same iterations, with the same values (TensorBoard stores float32)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from monai_fodgan.engines import LossLogger, TensorBoardLosses

    board = TensorBoardLosses(tmp_path / "tb", interval=2)
    make_trainer(tiny_fod_dataset, iterations=4, handlers=[LossLogger(2, file=tmp_path / "losses.jsonl"), board]).run()
    board.close()
    logged = [json.loads(line) for line in (tmp_path / "losses.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in logged] == [2, 4]
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")  # one writer, one file
    acc = EventAccumulator(str(events))
    acc.Reload()
    assert sorted(acc.Tags()["scalars"]) == sorted(f"train/{k}" for k in logged[0] if k != "iteration")
    for tag in acc.Tags()["scalars"]:
        found = acc.Scalars(tag)
        assert [e.step for e in found] == [2, 4]
        expected = [float(torch.tensor(r[tag[len("train/"):]], dtype=torch.float32)) for r in logged]
        assert [e.value for e in found] == expected, tag
