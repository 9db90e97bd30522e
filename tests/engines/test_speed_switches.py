"""Every speed switch of the trainer computes what the baseline computes, to floating-point rounding: one paper
iteration on the same data from the same weights and seed gives the same losses and the same updated weights.

The learning rate is tiny on purpose: Adam's first step is about lr x sign(gradient), so a parameter whose
gradient is zero up to rounding moves by +-lr in either run; with lr = 1e-6 that stays below the tolerance, while
every loss of the iteration (computed before, between and after the updates) is compared closely (the code
critic's penalty amplifies rounding most: 1.5e-4 relative between the plain and fused forms)."""

from __future__ import annotations

import copy

import pytest
import torch

from monai_fodgan.engines import AlphaWGANTrainer
from monai_fodgan.networks import build_alpha_wgan
from tests.conftest import TINY_SHAPE

BATCH, N_CRITIC = 2, 2


def _one_iteration(nets: dict[str, torch.nn.Module], images: torch.Tensor, **switches) -> tuple[dict, dict]:
    nets = copy.deepcopy(nets)
    opts = [torch.optim.Adam(nets[k].parameters(), 1e-6, betas=(0.5, 0.999)) for k in ("generator", "critic", "encoder", "code_critic")]
    trainer = AlphaWGANTrainer("cpu", 1, [{"image": images}], nets["generator"], nets["critic"], nets["encoder"],
                               nets["code_critic"], *opts, epoch_length=1, batch_size=BATCH, n_critic=N_CRITIC, **switches)
    torch.manual_seed(123)  # the codes z_r and the penalties' mixing weights
    (out,) = trainer._iteration(trainer, {"image": images})
    weights = {f"{k}.{n}": p.detach().clone() for k, net in nets.items() for n, p in net.state_dict().items()}
    return {k: float(v) for k, v in out.items()}, weights


@pytest.fixture(scope="module")
def baseline() -> tuple[dict, torch.Tensor, tuple[dict, dict]]:
    torch.manual_seed(0)
    nets = build_alpha_wgan("tiny", TINY_SHAPE, implementation="plain")
    images = torch.rand(BATCH * (1 + N_CRITIC), 28, *TINY_SHAPE) * 2 - 1
    return nets, images, _one_iteration(nets, images)


def _assert_same(result: tuple[dict, dict], reference: tuple[dict, dict], rtol: float) -> None:
    losses, weights = result
    ref_losses, ref_weights = reference
    for key, value in ref_losses.items():
        assert losses[key] == pytest.approx(value, rel=rtol, abs=1e-5), key
    for name, value in ref_weights.items():
        torch.testing.assert_close(weights[name].to(value.dtype), value, rtol=rtol, atol=3e-6, msg=name)


def _rebuilt(nets: dict[str, torch.nn.Module], **options) -> dict[str, torch.nn.Module]:
    """The same weights in networks built with other computation options."""
    out = build_alpha_wgan("tiny", TINY_SHAPE, **options)
    for k, net in out.items():
        net.load_state_dict(nets[k].state_dict())
    return out


@pytest.mark.parametrize("options, switches", [
    ({"implementation": "fused"}, {}),
    ({"implementation": "fused", "checkpoint_stages": True}, {}),
    ({"implementation": "fused"}, {"channels_last": True}),
    ({"implementation": "fused"}, {"compile_networks": True, "compile_backend": "aot_eager"}),
], ids=["fused", "activation-checkpointing", "channels-last", "compile-aot-eager"])
def test_switch_computes_the_baseline_iteration(baseline, options: dict, switches: dict) -> None:
    nets, images, reference = baseline
    _assert_same(_one_iteration(_rebuilt(nets, **options), images, **switches), reference, rtol=5e-4)


def test_the_comparison_detects_a_different_computation(baseline) -> None:
    """A changed recipe (lambda 10 instead of 50,000) is caught by the same comparison: the test above can fail."""
    nets, images, reference = baseline
    with pytest.raises(AssertionError):
        _assert_same(_one_iteration(nets, images, recon_weight=10.0), reference, rtol=5e-4)


def test_compile_with_inductor_on_the_cpu(baseline) -> None:
    """torch.compile's default backend (C++ kernels on the CPU) for G and E; D's penalty path stays eager."""
    nets, images, reference = baseline
    _assert_same(_one_iteration(_rebuilt(nets, implementation="fused"), images, compile_networks=True), reference, rtol=5e-4)
