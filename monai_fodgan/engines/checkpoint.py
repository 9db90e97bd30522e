"""Checkpoints of alpha-WGAN training that resume exactly, and the bundle's final ``models/model.pt``.

A checkpoint holds the four networks and their optimisers (and fp16 loss scalers), the trainer's position
(iteration, epoch), the RNG states (torch, CUDA, numpy, python), the SH normalisation statistics and a
hash of the hyperparameters and architectures. Everything is stored as tensors, numbers, strings and
optimiser state, so ``torch.load(..., weights_only=True)`` reads it. Files are written to a temporary
name and renamed, so a run killed mid-write leaves the previous checkpoint intact. The generator's
weights are under the key ``model``, the MONAI bundle convention, so ``models/model.pt`` loads into
``network_def`` like any zoo bundle's. While training, rank 0 holds the checkpoint folder's lock
(:class:`monai_fodgan.locking.OutputLock`): a second run on the same ``ckpt_dir`` refuses at start, naming the first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from monai_fodgan.data.stream import image_grid
from monai_fodgan.engines.logs import quiet_fresh_start
from monai_fodgan.io import atomic_output
from monai_fodgan.locking import OutputLock
from monai_fodgan.networks.generator import OUTPUT_RULE_KEYS
from monai_fodgan.transforms.normalize import SHNormalization

__all__ = ["AlphaWGANCheckpoint", "config_digest", "load_checkpoint", "rng_state", "set_rng_state"]

logger = logging.getLogger(__name__)

#: network attribute of the trainer -> checkpoint key ("model" is the generator, the MONAI convention)
NETWORKS = {"generator": "model", "critic": "critic", "encoder": "encoder", "code_critic": "code_critic"}
OPTIMIZERS = ("g_optimizer", "d_optimizer", "e_optimizer", "cd_optimizer")
_PATTERN = re.compile(r"checkpoint_(\d+)\.pt$")  # matched from the start: skips hidden temporary files


def _module(net: nn.Module) -> nn.Module:
    return net.module if isinstance(net, DistributedDataParallel) else net


def rng_state() -> dict[str, Any]:
    """The torch, CUDA, numpy and python RNG states as tensors (``weights_only``-loadable)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": py_version, "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss_next": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA states only where CUDA is present)."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["internal"].tolist()), p["gauss_next"]))


def config_digest(trainer: Any) -> str:
    """SHA-256 of the trainer's hyperparameters and the four architectures (not the run length)."""
    parts = {"hyperparameters": trainer.hyperparameters()}
    parts.update({name: repr(_module(getattr(trainer, name))) for name in NETWORKS})
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``), with an error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        raise ValueError(f"{path}: not a readable alpha-WGAN checkpoint ({e}).") from e


class AlphaWGANCheckpoint:
    """Save every ``save_every`` epochs (keeping the last ``n_saved``), save ``final_file`` when training
    completes, and resume at start from the newest checkpoint in ``ckpt_dir`` (else from ``init_checkpoint``).

    Args:
        ckpt_dir: folder of ``checkpoint_<iteration>.pt`` files.
        normalization: the SH statistics the data were normalised with (stored; checked on resume).
        final_file: written when training completes normally (the bundle's ``models/model.pt``); None: not written.
        save_every: epochs between checkpoints.
        n_saved: checkpoints kept.
        resume: look for the newest checkpoint in ``ckpt_dir`` at start.
        init_checkpoint: checkpoint to continue from when ``ckpt_dir`` has none (e.g. the shipped demo model).
        strict: a hyperparameter/architecture or normalisation mismatch on resume is an error (else a warning).
        rank: this process's rank; only rank 0 writes.
        reference_image: an image of the training grid; its affine and shape are stored so that inference
            writes synthetic subjects on that grid.
        wait_for_lock: when another run trains into ``ckpt_dir``, wait for it instead of refusing
            (:class:`monai_fodgan.locking.OutputLockedError`).
    """

    def __init__(self, ckpt_dir: str | Path, normalization: SHNormalization | str | Path | None = None,
                 final_file: str | Path | None = None, save_every: int = 1, n_saved: int = 3, resume: bool = True,
                 init_checkpoint: str | Path | None = None, strict: bool = True, rank: int | None = None,
                 reference_image: str | Path | None = None, wait_for_lock: bool = False) -> None:
        self.ckpt_dir = Path(ckpt_dir)
        self.lock = OutputLock(self.ckpt_dir, wait=wait_for_lock)
        if normalization is not None and not isinstance(normalization, SHNormalization):
            normalization = SHNormalization.load(normalization)
        self.normalization = normalization
        self.final_file = Path(final_file) if final_file else None
        self.save_every, self.n_saved = int(save_every), int(n_saved)
        self.resume = resume
        self.init_checkpoint = Path(init_checkpoint) if init_checkpoint else None
        self.strict = strict
        dist = torch.distributed
        self.rank = rank if rank is not None else (dist.get_rank() if dist.is_available() and dist.is_initialized() else 0)
        self.loaded_from: Path | None = None
        self.grid = None
        if reference_image is not None:
            affine, shape = image_grid(reference_image)  # a NIfTI header, or a training array's grid.json
            self.grid = {"affine": torch.as_tensor(affine, dtype=torch.float64), "spatial_shape": list(shape)}

    def attach(self, engine: Engine) -> None:
        quiet_fresh_start(engine)  # load_latest says where training resumes; Ignite's start message cannot know
        engine.add_event_handler(Events.STARTED, self.load_latest)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.save_every), self.save)
        engine.add_event_handler(Events.COMPLETED, self.save_final)
        engine.add_event_handler(Events.COMPLETED, lambda _: self.lock.release())
        engine.add_event_handler(Events.EXCEPTION_RAISED, self._release_and_raise)

    def _release_and_raise(self, engine: Engine, error: BaseException) -> None:
        """Free the folder when training fails, and let the error through (ignite re-raises only without handlers)."""
        self.lock.release()
        raise error

    # -- writing -------------------------------------------------------------------------------------
    def state(self, engine: Engine) -> dict[str, Any]:
        """Everything needed to continue ``engine`` (an :class:`AlphaWGANTrainer`) exactly."""
        out: dict[str, Any] = {key: _module(getattr(engine, name)).state_dict() for name, key in NETWORKS.items()}
        out.update({name: getattr(engine, name).state_dict() for name in OPTIMIZERS})
        out["scalers"] = {k: s.state_dict() for k, s in engine.scalers.items()}
        out["trainer"] = {"iteration": engine.state.iteration, "epoch": engine.state.epoch,
                          "epoch_length": engine.state.epoch_length}
        out["rng"] = rng_state()
        out["normalization"] = None if self.normalization is None else self.normalization.to_dict()
        out["grid"] = self.grid
        generator = _module(engine.generator)
        # the recipe's output rules (not in the state_dict), which inference applies again; a generator without them
        # writes none, and every reader (FODGenerator.set_output_rules) takes absent keys as the paper's
        if hasattr(generator, "output_rules"):
            out.update(generator.output_rules())
        out["config_hash"] = config_digest(engine)
        out["hyperparameters"] = engine.hyperparameters()
        return out

    @staticmethod
    def model_file_state(state: dict[str, Any]) -> dict[str, Any]:
        """What ``models/model.pt`` keeps of a checkpoint: generator (``model``) and encoder weights and the
        metadata inference needs; no critics, optimisers or RNG (the paper's would add 26 GB)."""
        keep = ("model", "encoder", "normalization", "grid", *OUTPUT_RULE_KEYS, "config_hash", "hyperparameters", "trainer")
        return {k: state[k] for k in keep if k in state}

    def _write(self, state: dict[str, Any], path: Path) -> None:
        for name, tensor in state["model"].items():
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise FloatingPointError(f"generator weight {name} is not finite; not writing {path} (the previous "
                                         "checkpoint is kept).")
        with atomic_output(path) as tmp:
            torch.save(state, tmp)

    def save(self, engine: Engine) -> None:
        """Write ``checkpoint_<iteration>.pt`` and drop all but the newest ``n_saved``."""
        if self.rank != 0:
            return
        self._save_checkpoint(self.state(engine), engine.state.iteration)

    def _save_checkpoint(self, state: dict[str, Any], iteration: int) -> None:
        path = self.ckpt_dir / f"checkpoint_{iteration:08d}.pt"
        self._write(state, path)
        for old in self.checkpoints()[: -self.n_saved]:
            old.unlink(missing_ok=True)
        logger.info("checkpoint saved: %s", path)

    def save_final(self, engine: Engine) -> None:
        """At normal completion: a last checkpoint and the final model file (generator and encoder)."""
        if self.rank != 0:
            return
        state = self.state(engine)
        self._save_checkpoint(state, engine.state.iteration)
        if self.final_file is not None:
            self._write(self.model_file_state(state), self.final_file)
            logger.info("final model saved: %s", self.final_file)

    # -- reading -------------------------------------------------------------------------------------
    def checkpoints(self) -> list[Path]:
        """Checkpoints in ``ckpt_dir``, oldest first."""
        if not self.ckpt_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.ckpt_dir.iterdir() if (m := _PATTERN.match(p.name))]
        return [p for _, p in sorted(found)]

    def load_latest(self, engine: Engine) -> None:
        """At start: continue from the newest checkpoint in ``ckpt_dir``, else from ``init_checkpoint``."""
        if self.rank == 0:
            self.lock.acquire()  # one run per checkpoint folder; a dead holder's lock is taken over
        if self.rank == 0 and self.ckpt_dir.is_dir():  # temporaries of a run killed while writing
            for stale in self.ckpt_dir.glob(".checkpoint_*"):
                stale.unlink(missing_ok=True)
        found = self.checkpoints() if self.resume else []
        path = found[-1] if found else self.init_checkpoint
        if path is None:
            logger.info("no checkpoint in %s: training starts at iteration 0", self.ckpt_dir)
            return
        self.load(engine, path)
        max_iterations = getattr(engine, "max_iterations", None)
        if max_iterations is not None and engine.state.iteration >= max_iterations:
            logger.info("%s is at iteration %d >= max_iterations %d: nothing to train.", path,
                        engine.state.iteration, max_iterations)
            engine.terminate()

    def _mismatch(self, message: str) -> None:
        if self.strict:
            raise ValueError(message + " Pass strict=False to continue anyway.")
        warnings.warn(message, stacklevel=3)

    def load(self, engine: Engine, path: str | Path) -> None:
        """Restore networks, optimisers, scalers, position and RNG states from ``path`` into ``engine``."""
        path = Path(path)
        ckpt = load_checkpoint(path, map_location=engine.state.device)
        if ckpt.get("config_hash") != config_digest(engine):
            self._mismatch(f"{path}: was written with other hyperparameters or architectures "
                           f"({ckpt.get('hyperparameters')}) than this run ({engine.hyperparameters()}).")
        saved_norm = ckpt.get("normalization")
        if self.normalization is not None and saved_norm is not None and \
                not np.allclose(saved_norm["scales"], self.normalization.scales, rtol=1e-6):
            self._mismatch(f"{path}: was trained with SH normalisation scales {saved_norm['scales']}, this run "
                           f"normalises with {list(self.normalization.scales)}.")
        for name, key in NETWORKS.items():
            _module(getattr(engine, name)).load_state_dict(ckpt[key])
        for name in OPTIMIZERS:
            getattr(engine, name).load_state_dict(ckpt[name])
        for k, s in engine.scalers.items():
            if ckpt.get("scalers", {}).get(k):
                s.load_state_dict(ckpt["scalers"][k])
        engine.state.iteration = int(ckpt["trainer"]["iteration"])
        engine.state.epoch = int(ckpt["trainer"]["epoch"])
        set_rng_state(ckpt["rng"])
        if self.rank != 0:  # only rank 0's streams were saved: give the others their own, reproducibly
            torch.manual_seed(int(torch.randint(0, 2**31, (1,))) + self.rank)
        self.loaded_from = path
        logger.info("resumed from %s at iteration %d", path, engine.state.iteration)
