"""The DeepTaskGen trainer: one ``monai.engines.Trainer`` iteration = one optimisation step of the paper.

Per iteration (Serin et al. 2025, Methods; Adam, lr 1e-3, batch 10, 100 epochs, ReduceLROnPlateau):

1. the batch: x (B, K, X, Y, Z) rest connectivity maps of B samples (a sub-sample each), y (B, C, X, Y, Z)
   their subjects' task-contrast maps;
2. the prediction: p = f(x) with the attention U-Net (:mod:`.networks`);
3. the loss (:mod:`.losses`), inside the grey-matter mask G:
   ``recon = <MSE(p_i, y_i)>_i``, ``C_other = <MSE(p_i, y_j)>_{i != j}``,
   ``L = recon + alpha * max(0, recon - C_other + margin)``; one backward, one optimiser step.

The learning-rate schedule (ReduceLROnPlateau on the validation loss) is an Ignite/MONAI handler
(``monai.handlers.LrScheduleHandler``), not part of the iteration, as in MONAI's ``SupervisedTrainer``.
Two samples of one subject may share a batch (sub-samples of the same rest data); their "other" term then
compares a prediction with its own subject's map once, which the paper's sampling accepts as well.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from monai.engines import Trainer
from monai.engines.utils import default_prepare_batch
from torch import nn
from torch.utils.data import DataLoader

from monai_fodgan.taskgen.losses import CRRLoss

__all__ = ["TaskMapTrainer", "LOSS_KEYS"]

#: scalar values the trainer puts in ``engine.state.output`` (detached), beside ``pred``
LOSS_KEYS = ("loss", "recon", "other", "hinge")


class TaskMapTrainer(Trainer):
    """Trains a rest-to-task network with the CRR loss, driven by Ignite events.

    Args:
        device: where the network lives.
        max_epochs: epochs over the loader (paper: 100).
        train_data_loader: yields dicts with ``image_key`` (B, K, X, Y, Z) and ``label_key`` (B, C, X, Y, Z), B >= 2
            (use ``drop_last=True`` so no batch of one reaches the loss).
        network: e.g. :func:`monai_fodgan.taskgen.networks.task_network`.
        optimizer: paper: Adam, lr 1e-3.
        loss_function: :class:`CRRLoss` holding the grey-matter mask (paper's scripts: alpha 0.25).
        epoch_length: iterations per epoch (default: the loader's length).
        image_key, label_key: batch keys.
        train_handlers: Ignite/MONAI handlers to attach.
        prepare_batch, non_blocking, iteration_update, postprocessing, key_train_metric, additional_metrics,
        metric_cmp_fn, decollate, to_kwargs: as :class:`monai.engines.Trainer`.

    Example::

        trainer = TaskMapTrainer("cpu", 100, loader, net, torch.optim.Adam(net.parameters(), 1e-3), CRRLoss(gm))
        trainer.run()
    """

    def __init__(
        self,
        device: str | torch.device,
        max_epochs: int,
        train_data_loader: DataLoader | Sequence,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_function: CRRLoss,
        epoch_length: int | None = None,
        image_key: str = "image",
        label_key: str = "label",
        train_handlers: Sequence | None = None,
        prepare_batch: Callable = default_prepare_batch,
        non_blocking: bool = False,
        iteration_update: Callable | None = None,
        postprocessing: Callable | None = None,
        key_train_metric: dict | None = None,
        additional_metrics: dict | None = None,
        metric_cmp_fn: Callable | None = None,
        decollate: bool = False,
        to_kwargs: dict | None = None,
    ) -> None:
        super().__init__(
            device=device, max_epochs=max_epochs, data_loader=train_data_loader, epoch_length=epoch_length,
            non_blocking=non_blocking, prepare_batch=prepare_batch, iteration_update=iteration_update,
            postprocessing=postprocessing, key_metric=key_train_metric, additional_metrics=additional_metrics,
            metric_cmp_fn=metric_cmp_fn or (lambda current, prev: current > prev), handlers=train_handlers,
            amp=False, decollate=decollate, to_kwargs=to_kwargs,
        )
        self.network, self.optimizer, self.loss_function = network, optimizer, loss_function
        self.image_key, self.label_key = image_key, label_key

    def _iteration(self, engine: TaskMapTrainer, batchdata: dict) -> dict:
        # 1. the batch: connectivity maps x and task maps y on the device
        x = batchdata[self.image_key].to(engine.state.device, non_blocking=engine.non_blocking)
        y = batchdata[self.label_key].to(engine.state.device, non_blocking=engine.non_blocking)
        if x.shape[0] < 2:
            raise ValueError("the CRR loss needs at least 2 samples per batch; use drop_last=True in the loader.")
        # 2. the prediction
        self.network.train()
        pred = self.network(torch.as_tensor(x))
        # 3. the CRR loss inside the grey-matter mask; one backward, one step
        loss = self.loss_function(pred, torch.as_tensor(y))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"pred": pred.detach(), **{k: self.loss_function.last[k] for k in LOSS_KEYS}}
