"""MONAI Label app of the FOD alpha-WGAN bundle: ``monailabel start_server --app monailabel_app --studies DIR``.

Two tasks: ``fod_synthesis`` (infer: synthetic subjects from a seed or latent codes, no input image) and
``fod_training`` (train: the bundle's own training, continued with all four networks, validated without labels).
Paths come from ``--conf`` (see ``lib/settings.py`` and this folder's README.md).
"""

from __future__ import annotations

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this app's lib/ before any other "lib"

from lib.settings import AppSettings
from lib.synthesis import FODSynthesis
from lib.training import FODTraining
from monailabel.interfaces.app import MONAILabelApp

logger = logging.getLogger(__name__)


class FODGANApp(MONAILabelApp):
    """The synthesis and training tasks of the bundle at conf ``bundle`` (default ``../bundle``)."""

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        self.settings = AppSettings.from_conf(app_dir, studies, conf or {})
        logger.info("FOD alpha-WGAN app: %s", self.settings)
        super().__init__(app_dir=app_dir, studies=studies, conf=conf, name="FOD alpha-WGAN",
                         description="Synthetic diffusion-MRI FODs (Vellmer et al. 2025) from the monai_fodgan bundle",
                         version="1.0")

    def init_infers(self):
        return {"fod_synthesis": FODSynthesis(self.settings)}

    def init_trainers(self):
        return {"fod_training": FODTraining(self.settings)}

    def init_strategies(self):
        return {}
