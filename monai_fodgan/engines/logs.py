"""Log messages a person can follow: Ignite's start message without its false "resuming".

MONAI's workflows create the engine state before ``run()``, so Ignite announces every start, fresh or not, as
"Engine run resuming from iteration 0, epoch 0 ...". On a fresh start that is wrong, and in a resumed training run
it contradicts the real position, which is only known after the checkpoint handler has loaded it (and which that
handler logs: "resumed from ... at iteration 3300").
"""

from __future__ import annotations

import logging

from ignite.engine import Engine

__all__ = ["quiet_fresh_start"]


class _NoFreshStartResumeMessage(logging.Filter):
    """Drops Ignite's "Engine run resuming from iteration 0, epoch 0 ..." (a fresh start, not a resume)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Engine run resuming from iteration 0, epoch 0")


def quiet_fresh_start(engine: Engine) -> None:
    """Silence only that message on ``engine``'s logger (idempotent); every other message stays."""
    if not any(isinstance(f, _NoFreshStartResumeMessage) for f in engine.logger.filters):
        engine.logger.addFilter(_NoFreshStartResumeMessage())
