"""The alpha-WGAN trainer: one ``monai.engines.Trainer`` iteration = one iteration of the paper.

Per iteration (Vellmer et al. 2025, Methods; the published code's schedule):

1. generator/encoder step on real batch x: ``z_e = E(x)``, ``x_dec = G(z_e)``, ``x_syn = G(z_r)``,
   ``L_GE = -<D(x_dec)> - <D(x_syn)> - <CD(z_e)> + lambda <|x - x_dec|>`` (Eq. 1); one backward, then
   ``encoder_steps`` optimiser steps for E and ``generator_steps`` for G on the same gradients (paper: 1 and 2);
2. ``n_critic`` critic steps, each on a fresh real batch and fresh samples:
   ``L_D = <D(x_dec)> + <D(x_syn)> - 2 <D(x)> + kappa (phi(x, x_syn) + phi(x, x_dec))`` (Eq. 2);
3. one code-critic step on the last critic batch: ``L_CD = <CD(z_e)> - <CD(z_r)> + kappa phi(z_e, z_r)`` (Eq. 3).

The reconstruction is ``G(E(x))`` as in the paper's Eq. 1 (the published code used ``G(z_r)``, so its encoder
never learnt to reconstruct). ``<|x - x_dec|>`` is the mean absolute error over all elements, as in the
published code. Each loader batch holds the ``1 + n_critic`` real batches of one iteration (see
:class:`monai_fodgan.data.StreamSampler`), which makes the data of a resumed run exactly that of an
uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from ignite.engine import Events
from monai.engines import Trainer
from monai.engines.utils import default_prepare_batch
from monai.inferers import Inferer, SimpleInferer
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.profiler import record_function
from torch.utils.data import DataLoader

from monai_fodgan.engines.losses import gradient_penalty

__all__ = ["AlphaWGANTrainer", "LOSS_KEYS", "PHASES", "frozen"]

#: every value the trainer puts in ``engine.state.output`` (scalars, detached): losses and critic means.
LOSS_KEYS = (
    "loss", "loss_ge", "recon_l1", "ge_d_dec", "ge_d_syn", "ge_cd_e",
    "loss_d", "d_real", "d_syn", "d_dec", "gp_d", "wasserstein",
    "loss_cd", "cd_e", "cd_r", "gp_cd",
)
PRECISIONS = ("fp32", "bf16", "fp16")
#: profiler labels of an iteration's phases (torch.profiler.record_function): where the time goes
PHASES = ("alpha_wgan:generator_encoder_step", "alpha_wgan:critic_samples", "alpha_wgan:critic_update",
          "alpha_wgan:code_critic_step")


@contextmanager
def frozen(*nets: nn.Module) -> Iterator[None]:
    """Run networks as constants: no parameter gradients, and no DDP gradient sync expected from them."""
    saved = [(p, p.requires_grad) for net in nets for p in net.parameters()]
    with ExitStack() as stack:
        for net in nets:
            if isinstance(net, DistributedDataParallel):
                stack.enter_context(net.no_sync())
        for p, _ in saved:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, flag in saved:
                p.requires_grad_(flag)


class AlphaWGANTrainer(Trainer):
    """Adversarial trainer of the four alpha-WGAN networks (G, D, E, CD), driven by Ignite events.

    Args:
        device: where the networks live.
        max_epochs: number of "epochs" of ``epoch_length`` iterations (checkpoint and sample-image period);
            None derives it from ``max_iterations``.
        train_data_loader: yields dicts whose ``image_key`` holds ``(1 + n_critic) * batch_size`` images
            (B, C, X, Y, Z), normalised to the generator's range.
        generator, critic, encoder, code_critic: the networks (optionally DDP-wrapped).
        g_optimizer, d_optimizer, e_optimizer, cd_optimizer: their optimisers (paper: Adam, lr 1e-4, betas (0.5, 0.999)).
        epoch_length: iterations per epoch (the loader is endless).
        batch_size: images per optimisation step (paper: 6).
        latent_size: length of z (default: the generator's ``latent_size``).
        max_iterations: stop after exactly this many iterations (paper: 37,000); None: run ``max_epochs``.
        n_critic: critic steps per iteration (paper: 4).
        generator_steps, encoder_steps: optimiser steps per G/E backward (paper: 2 and 1).
        recon_weight: lambda in Eq. 1 (paper: 50,000).
        gp_weight: kappa in Eq. 2-3 (paper: 10).
        precision: ``"fp32"``, ``"bf16"`` (autocast) or ``"fp16"`` (autocast with loss scaling).
        channels_last: run the images (and the networks not yet wrapped in DDP) in the channels-last 3D memory
            format (cuDNN's fast 3D kernels under mixed precision need it; see ``train.json``'s sources).
        compile_networks: ``torch.compile`` G and E (their forward and backward). D and CD stay eager: the
            gradient penalty's double backward cannot be compiled.
        compile_mode: ``torch.compile`` mode (``"reduce-overhead"`` adds CUDA graphs: small, launch-bound
            presets on GPUs; ``None``: the default).
        compile_backend: ``torch.compile`` backend (``"inductor"``; ``"aot_eager"`` checks the wiring quickly).
        batch_transform: ``f(images, positions) -> images`` applied to each loader batch on the device before
            it is split (e.g. :class:`monai_fodgan.transforms.BatchRandSHRotate`, the rotation augmentation on
            the GPU); ``positions`` are the samples' stream positions (the batch's ``position`` entry) or None.
        inferer: how G is applied to codes (default ``SimpleInferer``).
        image_key: key of the images in the batch.
        train_handlers: Ignite/MONAI handlers to attach.
        prepare_batch, non_blocking, iteration_update, postprocessing, key_train_metric, additional_metrics,
        metric_cmp_fn, event_names, event_to_attr, decollate, to_kwargs: as :class:`monai.engines.Trainer`.
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int | None,
        train_data_loader: DataLoader | Sequence,
        generator: nn.Module,
        critic: nn.Module,
        encoder: nn.Module,
        code_critic: nn.Module,
        g_optimizer: torch.optim.Optimizer,
        d_optimizer: torch.optim.Optimizer,
        e_optimizer: torch.optim.Optimizer,
        cd_optimizer: torch.optim.Optimizer,
        epoch_length: int,
        batch_size: int,
        latent_size: int | None = None,
        max_iterations: int | None = None,
        n_critic: int = 4,
        generator_steps: int = 2,
        encoder_steps: int = 1,
        recon_weight: float = 50_000.0,
        gp_weight: float = 10.0,
        precision: str = "fp32",
        channels_last: bool = False,
        compile_networks: bool = False,
        compile_mode: str | None = None,
        compile_backend: str = "inductor",
        batch_transform: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor] | None = None,
        inferer: Inferer | None = None,
        image_key: str = "image",
        train_handlers: Sequence | None = None,
        prepare_batch: Callable = default_prepare_batch,
        non_blocking: bool = False,
        iteration_update: Callable | None = None,
        postprocessing: Callable | None = None,
        key_train_metric: dict | None = None,
        additional_metrics: dict | None = None,
        metric_cmp_fn: Callable | None = None,
        event_names: list | None = None,
        event_to_attr: dict | None = None,
        decollate: bool = False,
        to_kwargs: dict | None = None,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
        if max_epochs is None:
            if max_iterations is None:
                raise ValueError("give max_epochs or max_iterations.")
            max_epochs = math.ceil(max_iterations / epoch_length)
        for name, value in (("batch_size", batch_size), ("n_critic", n_critic), ("epoch_length", epoch_length)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}.")
        super().__init__(
            device=device, max_epochs=max_epochs, data_loader=train_data_loader, epoch_length=epoch_length,
            non_blocking=non_blocking, prepare_batch=prepare_batch, iteration_update=iteration_update,
            postprocessing=postprocessing, key_metric=key_train_metric, additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn or (lambda current, prev: current > prev), handlers=train_handlers,
            amp=False, event_names=event_names, event_to_attr=event_to_attr, decollate=decollate, to_kwargs=to_kwargs,
        )
        self.generator, self.critic, self.encoder, self.code_critic = generator, critic, encoder, code_critic
        self.g_optimizer, self.d_optimizer = g_optimizer, d_optimizer
        self.e_optimizer, self.cd_optimizer = e_optimizer, cd_optimizer
        self.batch_size = int(batch_size)
        self.latent_size = int(latent_size if latent_size is not None else _unwrap(generator).latent_size)
        self.max_iterations = max_iterations
        self.n_critic = int(n_critic)
        self.generator_steps, self.encoder_steps = int(generator_steps), int(encoder_steps)
        self.recon_weight, self.gp_weight = float(recon_weight), float(gp_weight)
        self.precision = precision
        self.channels_last = bool(channels_last)
        if self.channels_last:
            for net in (generator, critic, encoder):
                if not isinstance(net, DistributedDataParallel):  # a DDP module is converted before wrapping
                    net.to(memory_format=torch.channels_last_3d)
        # compiled callables share the modules' parameters; the modules themselves stay as they are for
        # checkpoints, handlers and DDP
        compile_kwargs = {"mode": compile_mode, "backend": compile_backend}
        self._g_forward = torch.compile(generator, **compile_kwargs) if compile_networks else generator
        self._e_forward = torch.compile(encoder, **compile_kwargs) if compile_networks else encoder
        self.batch_transform = batch_transform
        self.inferer = inferer if inferer is not None else SimpleInferer()
        self.image_key = image_key
        device_type = torch.device(device).type
        self.autocast_kwargs = {"device_type": device_type, "enabled": precision != "fp32",
                                "dtype": torch.float16 if precision == "fp16" else torch.bfloat16}
        # one scaler per loss: their gradients differ by orders of magnitude (lambda = 50,000 in L_GE)
        self.scalers = {k: torch.amp.GradScaler(device_type, enabled=precision == "fp16") for k in ("ge", "d", "cd")}
        self.add_event_handler(Events.EPOCH_STARTED, self._position_stream)
        if max_iterations is not None:
            self.add_event_handler(Events.ITERATION_COMPLETED, self._stop_at_max_iterations)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """What defines the optimisation (hashed into checkpoints; run length excluded)."""
        return {"batch_size": self.batch_size, "latent_size": self.latent_size, "n_critic": self.n_critic,
                "generator_steps": self.generator_steps, "encoder_steps": self.encoder_steps,
                "recon_weight": self.recon_weight, "gp_weight": self.gp_weight}

    def _position_stream(self, engine: AlphaWGANTrainer) -> None:
        sampler = getattr(self.data_loader, "sampler", None)
        if hasattr(sampler, "set_iteration"):
            sampler.set_iteration(engine.state.iteration)

    def _stop_at_max_iterations(self, engine: AlphaWGANTrainer) -> None:
        if engine.state.iteration >= self.max_iterations:
            engine.terminate()

    # -- one paper iteration -------------------------------------------------------------------------
    def _codes(self, n: int, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(n, self.latent_size, device=like.device, dtype=torch.float32)

    def _generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.inferer(z, self._g_forward)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._e_forward(x)

    def _optimise(self, loss: torch.Tensor, scaler: torch.amp.GradScaler,
                  steps: Sequence[tuple[torch.optim.Optimizer, int]]) -> None:
        """Backward ``loss`` once, then step each optimiser ``n`` times on the same gradients; under fp16 the
        step is skipped when the gradients overflowed (GradScaler semantics)."""
        for opt, _ in steps:
            opt.zero_grad(set_to_none=True)
        if not scaler.is_enabled():
            loss.backward()
            for opt, n in steps:
                for _ in range(n):
                    opt.step()
            return
        scaler.scale(loss).backward()
        found_inf = 0.0
        for opt, _ in steps:
            scaler.unscale_(opt)
            # GradScaler.step refuses a second step before update(); check the recorded overflow ourselves
            found_inf += sum(float(v) for v in scaler._found_inf_per_device(opt).values())
        if found_inf == 0:
            for opt, n in steps:
                for _ in range(n):
                    opt.step()
        scaler.update()

    def _scale(self, key: str) -> float | None:
        scaler = self.scalers[key]
        return float(scaler.get_scale()) if scaler.is_enabled() else None

    def _iteration(self, engine: AlphaWGANTrainer, batchdata: dict[str, Any]) -> list[dict[str, torch.Tensor]]:
        """One paper iteration; returns ``[outputs]``: one dict of detached scalars (:data:`LOSS_KEYS`) in a list,
        MONAI's decollated form, so ``monai.handlers.from_engine(["loss"], first=True)`` (used by MONAI's stats
        and MLflow handlers) reads the generator/encoder loss."""
        if batchdata is None:
            raise ValueError("must provide batch data for current iteration.")
        images = batchdata[self.image_key] if isinstance(batchdata, dict) else batchdata
        images = torch.as_tensor(images).to(engine.state.device, non_blocking=engine.non_blocking).float()
        need = self.batch_size * (1 + self.n_critic)
        if images.shape[0] != need:
            raise ValueError(f"a loader batch must hold batch_size x (1 + n_critic) = {need} images, got {images.shape[0]}.")
        if self.batch_transform is not None:
            positions = batchdata.get("position") if isinstance(batchdata, dict) else None
            images = self.batch_transform(images, positions)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last_3d)
        batches = images.split(self.batch_size)
        G, D, E, CD = self.generator, self.critic, self.encoder, self.code_critic
        for net in (G, D, E, CD):
            net.train()
        out: dict[str, torch.Tensor] = {}
        autocast = torch.autocast(**self.autocast_kwargs)

        # 1. generator and encoder (Eq. 1)
        x = batches[0]
        with record_function(PHASES[0]), frozen(D, CD), autocast:
            z_e = self._encode(x)
            x_dec = self._generate(z_e)
            x_syn = self._generate(self._codes(len(x), x))
            d_dec, d_syn = D(x_dec).float().mean(), D(x_syn).float().mean()
            cd_e = CD(z_e).float().mean()
            recon = (x - x_dec.float()).abs().mean()
            loss_ge = -d_dec - d_syn - cd_e + self.recon_weight * recon
        with record_function(PHASES[0]):
            self._optimise(loss_ge, self.scalers["ge"], [(self.e_optimizer, self.encoder_steps), (self.g_optimizer, self.generator_steps)])
        out.update(loss_ge=loss_ge, recon_l1=recon, ge_d_dec=d_dec, ge_d_syn=d_syn, ge_cd_e=cd_e)

        # 2. image critic (Eq. 2), a fresh real batch per step
        for x in batches[1:]:
            with record_function(PHASES[1]), torch.no_grad(), autocast:
                x_syn = self._generate(self._codes(len(x), x)).float()
                x_dec = self._generate(self._encode(x)).float()
            with record_function(PHASES[2]):
                with autocast:
                    d_real, d_syn, d_dec = D(x).float().mean(), D(x_syn).float().mean(), D(x_dec).float().mean()
                gp = gradient_penalty(D, x, x_syn, scale=self._scale("d")) + gradient_penalty(D, x, x_dec, scale=self._scale("d"))
                loss_d = d_dec + d_syn - 2 * d_real + self.gp_weight * gp
                self._optimise(loss_d, self.scalers["d"], [(self.d_optimizer, 1)])
        out.update(loss_d=loss_d, d_real=d_real, d_syn=d_syn, d_dec=d_dec, gp_d=gp,
                   wasserstein=d_real - 0.5 * (d_syn + d_dec))

        # 3. code critic (Eq. 3), on the last critic batch
        with record_function(PHASES[3]):
            with torch.no_grad(), autocast:
                z_e = self._encode(x).float()
            z_r = self._codes(len(x), x)
            with autocast:
                cd_e, cd_r = CD(z_e).float().mean(), CD(z_r).float().mean()
            gp_cd = gradient_penalty(CD, z_r, z_e, scale=self._scale("cd"))
            loss_cd = cd_e - cd_r + self.gp_weight * gp_cd
            self._optimise(loss_cd, self.scalers["cd"], [(self.cd_optimizer, 1)])
        out.update(loss_cd=loss_cd, cd_e=cd_e, cd_r=cd_r, gp_cd=gp_cd)

        out["loss"] = out["loss_ge"]
        return [{k: v.detach() for k, v in out.items()}]


def _unwrap(net: nn.Module) -> nn.Module:
    return net.module if isinstance(net, DistributedDataParallel) else net
