"""monai_fodgan: synthesising diffusion-MRI fibre orientation distributions (FODs) with an alpha-WGAN, as a
MONAI extension (Vellmer et al., Communications Biology 2025).

Layout: :mod:`monai_fodgan.sh` (SH basis and rotations), :mod:`monai_fodgan.transforms` (MONAI transforms),
:mod:`monai_fodgan.io` (FOD files), :mod:`monai_fodgan.mrtrix` (MRtrix3 commands), :mod:`monai_fodgan.prepare`
(DWI -> FOD cohorts; per-subject work in this process, a local pool or on Dask: :mod:`monai_fodgan.executors`), :mod:`monai_fodgan.data` (phantoms, the training sample stream),
:mod:`monai_fodgan.networks` (G, D, E, CD), :mod:`monai_fodgan.engines` (trainer, checkpoints, monitoring),
:mod:`monai_fodgan.inference` (sampling, loading bundles), :mod:`monai_fodgan.evaluation` (the paper's validation and
generative metrics, as a report; command ``python -m monai_fodgan.evaluate``); the MONAI bundle is ``bundle/``
beside the package. :mod:`monai_fodgan.taskgen` is the second system (task-fMRI maps from resting-state fMRI), with
its bundle in ``taskgen_bundle/``.
"""

__version__ = "0.1.0"
