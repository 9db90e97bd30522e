"""The exact cheaper forms compute the same function as the paper's layers: outputs and gradients in float64
agree to 1e-10 (relative) for every stage pattern, odd sizes, batch 1 and > 1; the shipped demo model's samples
do not change."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from monai_fodgan.networks import FODCritic, FODEncoder, FODGenerator, build_alpha_wgan
from monai_fodgan.networks.exact_forms import code_to_grid, full_grid_conv3d, upsample_conv3d

REPO = Path(__file__).resolve().parents[2]
RTOL = 1e-10


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def _plain_upsample_conv(x: torch.Tensor, w: torch.Tensor, factors: tuple[int, ...]) -> torch.Tensor:
    return F.conv3d(F.interpolate(x, scale_factor=factors, mode="nearest"), w, padding=1)


@pytest.mark.parametrize("factors", list(itertools.product((1, 2), repeat=3)))
@pytest.mark.parametrize("batch, size", [(1, (3, 5, 7)), (3, (4, 4, 2)), (2, (1, 6, 3))])
def test_upsample_conv_equals_transposed_form(factors: tuple[int, ...], batch: int, size: tuple[int, ...]) -> None:
    g = torch.Generator().manual_seed(sum(factors) + batch)
    x = torch.randn(batch, 5, *size, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 5, 3, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(batch, 4, *(s * f for s, f in zip(size, factors)), generator=g, dtype=torch.float64)
    plain = _plain_upsample_conv(x, w, factors)
    fused = upsample_conv3d(x, w, factors)
    assert fused.shape == plain.shape
    assert _rel(fused, plain) < RTOL
    gx_p, gw_p = torch.autograd.grad(plain, (x, w), grad_out)
    gx_f, gw_f = torch.autograd.grad(fused, (x, w), grad_out)
    assert _rel(gx_f, gx_p) < RTOL and _rel(gw_f, gw_p) < RTOL


def test_the_check_can_fail_a_wrong_tap_order() -> None:
    """A kernel built from unflipped taps is detected: the equality test above is not vacuous."""
    x = torch.randn(1, 2, 4, 4, 4, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, 3, dtype=torch.float64)
    wrong = upsample_conv3d(x, w.flip(2, 3, 4), (2, 2, 2))
    assert _rel(wrong, _plain_upsample_conv(x, w, (2, 2, 2))) > 1e-3


@pytest.mark.parametrize("batch", [1, 4])
def test_head_and_last_critic_layer_as_matrix_products(batch: int) -> None:
    z = torch.randn(batch, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, 5, 4, 4, 2, dtype=torch.float64, requires_grad=True)
    plain = F.conv_transpose3d(z.reshape(batch, 7, 1, 1, 1), w)
    fused = code_to_grid(z, w)
    assert _rel(fused, plain) < RTOL
    g = torch.randn_like(plain)
    assert all(_rel(a, b) < RTOL for a, b in zip(torch.autograd.grad(fused, (z, w), g), torch.autograd.grad(plain, (z, w), g)))
    x = torch.randn(batch, 6, 4, 4, 3, dtype=torch.float64)
    wc, bc = torch.randn(9, 6, 4, 4, 3, dtype=torch.float64), torch.randn(9, dtype=torch.float64)
    assert _rel(full_grid_conv3d(x, wc, bc), F.conv3d(x, wc, bc).flatten(1)) < RTOL
    with pytest.raises(ValueError, match="cover"):
        full_grid_conv3d(x[..., :2], wc, bc)


def _pair(cls: type, **kwargs) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    fused = cls(**kwargs, implementation="fused").double()
    plain = cls(**kwargs, implementation="plain").double()
    plain.load_state_dict(fused.state_dict())
    return fused, plain


def _same_outputs_and_gradients(fused: torch.nn.Module, plain: torch.nn.Module, inp: torch.Tensor) -> None:
    out_f, out_p = fused(inp), plain(inp)
    assert _rel(out_f, out_p) < RTOL
    g = torch.randn_like(out_p)
    (out_f * g).sum().backward()
    (out_p * g).sum().backward()
    for (name, pf), (_, pp) in zip(fused.named_parameters(), plain.named_parameters()):
        assert _rel(pf.grad, pp.grad) < RTOL, name
    for (name, bf), (_, bp) in zip(fused.named_buffers(), plain.named_buffers()):
        assert torch.allclose(bf.double(), bp.double(), rtol=RTOL, atol=0), name  # BatchNorm statistics


# (32, 32, 16) with 3 stages ends in the paper's (2, 2, 1) stage; (16, 16, 16) doubles every axis; (8, 16, 32)
# doubles only some axes in the first stages
@pytest.mark.parametrize("shape, channels", [((32, 32, 16), (8, 6, 4)), ((16, 16, 16), (6, 4)), ((8, 16, 32), (6, 5, 4))])
@pytest.mark.parametrize("batch", [1, 3])
def test_generator_forms_agree(shape: tuple[int, ...], channels: tuple[int, ...], batch: int) -> None:
    fused, plain = _pair(FODGenerator, latent_size=9, out_channels=6, spatial_shape=shape, channels=channels)
    assert [k for k in fused.state_dict()] == [k for k in plain.state_dict()]
    _same_outputs_and_gradients(fused, plain, torch.randn(batch, 9, dtype=torch.float64))


@pytest.mark.parametrize("cls, extra", [(FODCritic, {}), (FODEncoder, {"latent_size": 7})])
@pytest.mark.parametrize("batch", [2, 3])
def test_critic_and_encoder_forms_agree(cls: type, extra: dict, batch: int) -> None:
    fused, plain = _pair(cls, in_channels=6, spatial_shape=(32, 32, 16), channels=(4, 6, 8), **extra)
    _same_outputs_and_gradients(fused, plain, torch.randn(batch, 6, 32, 32, 16, dtype=torch.float64))


def test_activation_checkpointing_changes_nothing_computed() -> None:
    """Outputs, gradients and BatchNorm running statistics (counted once, not again at recomputation)."""
    torch.manual_seed(1)
    base = FODGenerator(9, 6, (16, 16, 8), (8, 6, 4)).double()
    ckpt = FODGenerator(9, 6, (16, 16, 8), (8, 6, 4), checkpoint_stages=True).double()
    ckpt.load_state_dict(base.state_dict())
    _same_outputs_and_gradients(ckpt, base, torch.randn(3, 9, dtype=torch.float64))
    assert int(ckpt.body[2].num_batches_tracked) == 1


def test_fp32_last_layer_under_bf16_autocast() -> None:
    """The output leaves the last layer in float32 (values bf16 cannot hold) and is closer to float64's."""
    torch.manual_seed(2)
    ref = FODGenerator(16, 6, (16, 16, 8), (16, 8, 8)).double()
    z = torch.randn(4, 16, dtype=torch.float64)
    with torch.no_grad():
        truth = ref(z)
    errors = {}
    for fp32_last in (False, True):
        net = FODGenerator(16, 6, (16, 16, 8), (16, 8, 8), fp32_last_layer=fp32_last)
        net.load_state_dict(ref.state_dict())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(z.float()).detach()
        assert out.dtype == (torch.float32 if fp32_last else torch.bfloat16)
        errors[fp32_last] = float((out.double() - truth).abs().mean())
    assert errors[True] < errors[False]


def test_shipped_demo_model_samples_unchanged() -> None:
    """The demo model's checkpoint loads into both forms and gives the same samples (float32 rounding)."""
    from monai_fodgan.inference import load_weights

    model_file = REPO / "bundle" / "models" / "demo_model.pt"
    gens = {}
    for implementation in ("fused", "plain"):
        nets = build_alpha_wgan("demo", (32, 32, 16), implementation=implementation)
        gens[implementation] = load_weights(model_file, nets["generator"]).generator
    z = torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fused, plain = gens["fused"](z), gens["plain"](z)
    assert fused.abs().max() > 0.1  # real samples, not zeros
    assert _rel(fused, plain) < 1e-5


def test_torchscript_export_computes_the_same_function() -> None:
    """MONAI's ckpt_export scripts the networks: TorchScript runs the plain layers, which equal the fused eager form."""
    torch.manual_seed(3)
    g = FODGenerator(16, 28, (16, 16, 8), (8, 4)).eval()
    e = FODEncoder(28, (16, 16, 8), (8, 4), latent_size=16).eval()
    z, x = torch.randn(2, 16), torch.randn(2, 28, 16, 16, 8)
    with torch.no_grad():
        assert _rel(torch.jit.script(g)(z), g(z)) < 1e-5
        assert _rel(torch.jit.script(e)(x), e(x)) < 1e-5
