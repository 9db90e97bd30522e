"""The brain-like phantom population (see :mod:`.population`); command line: ``python -m monai_fodgan.data.phantom``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monai_fodgan._lazy import lazy_exports

if TYPE_CHECKING:
    from monai_fodgan.data.phantom.population import (
        BUNDLES, DEMO_SHAPE, PhantomSubject, load_aal, load_mni_tissue, make_population, make_subject, mni_box, template_afd,
    )

__all__ = ["BUNDLES", "DEMO_SHAPE", "PhantomSubject", "load_aal", "load_mni_tissue", "make_population", "make_subject", "mni_box",
           "template_afd"]

__getattr__, __dir__ = lazy_exports(__name__, {"monai_fodgan.data.phantom.population": __all__})
