"""Sampling from a generator: seeded codes, BatchNorm modes, standing statistics, interpolation."""

from __future__ import annotations

import pytest
import torch

from monai_fodgan.inference import (
    generate,
    interpolate_codes,
    latent_codes,
    sample_images,
    standing_statistics,
)
from monai_fodgan.networks import FODGenerator


def _generator() -> FODGenerator:
    torch.manual_seed(0)
    g = FODGenerator(latent_size=16, out_channels=6, spatial_shape=(8, 8, 4), channels=(8, 4))
    g.train()
    with torch.no_grad():  # give the running statistics something far from the prior batches' statistics
        for _ in range(20):
            g(3.0 * torch.randn(4, 16) + 1.0)
    return g


def test_codes_do_not_depend_on_how_many_are_drawn() -> None:
    torch.testing.assert_close(latent_codes(5, 16, seed=3)[2:], latent_codes(3, 16, seed=3, start=2))
    assert not torch.equal(latent_codes(1, 16, seed=3), latent_codes(1, 16, seed=4))


@pytest.mark.parametrize("bn", ["standing", "running"])
def test_eval_mode_samples_do_not_depend_on_batching(bn: str) -> None:
    g = _generator()
    torch.testing.assert_close(sample_images(g, 6, seed=1, batch_size=2, bn=bn)[:2],
                               sample_images(g, 2, seed=1, batch_size=1, bn=bn), atol=1e-5, rtol=1e-4)


def test_batch_mode_samples_depend_on_the_batch() -> None:
    g = _generator()
    a = sample_images(g, 4, seed=1, batch_size=4, bn="batch")[0]
    b = sample_images(g, 2, seed=1, batch_size=2, bn="batch")[0]
    assert not torch.allclose(a, b, atol=1e-4)


def test_standing_statistics_describe_prior_batches_and_are_restored() -> None:
    g = _generator()
    bn = g.head[1]
    before = (bn.running_mean.clone(), bn.running_var.clone(), g.training)
    with standing_statistics(g, n=256, batch_size=8):
        # the first layer's statistics now match those of batches of prior codes
        h = g.head[0](latent_codes(512, 16, seed=5).reshape(512, 16, 1, 1, 1))
        torch.testing.assert_close(bn.running_mean, h.mean(dim=(0, 2, 3, 4)), atol=0.1 * h.std().item(), rtol=0)
        assert not g.training
    torch.testing.assert_close(bn.running_mean, before[0])
    torch.testing.assert_close(bn.running_var, before[1])
    assert g.training == before[2]


def test_invalid_bn_mode_rejected() -> None:
    with pytest.raises(ValueError, match="bn must be one of"):
        sample_images(_generator(), 1, bn="train")


def test_interpolation_ends_at_both_codes() -> None:
    a, b = torch.randn(16), torch.randn(16)
    z = interpolate_codes(a, b, steps=5)
    torch.testing.assert_close(z[0], a)
    torch.testing.assert_close(z[-1], b)
    torch.testing.assert_close(z[2], (a + b) / 2)


@pytest.mark.parametrize("bn", ["standing", "running", "batch"])
def test_generate_from_given_codes_is_sampling_from_those_codes(bn: str) -> None:
    g = _generator()
    torch.testing.assert_close(generate(g, latent_codes(3, 16, seed=2), batch_size=2, bn=bn),
                               sample_images(g, 3, seed=2, batch_size=2, bn=bn))


@pytest.mark.parametrize("codes", [torch.zeros(2, 15), torch.zeros(16), torch.full((1, 16), float("nan"))],
                         ids=["wrong latent size", "not (N, latent)", "not finite"])
def test_generate_refuses_codes_that_do_not_fit(codes: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="codes must"):
        generate(_generator(), codes)
