"""monai_fodgan: synthesising diffusion-MRI fibre orientation distributions (FODs) with an alpha-WGAN, as a
MONAI extension (Vellmer et al., Communications Biology 2025).

Layout: :mod:`monai_fodgan.sh` (SH basis and rotations), :mod:`monai_fodgan.transforms` (MONAI transforms),
:mod:`monai_fodgan.io` (FOD files), :mod:`monai_fodgan.mrtrix` (MRtrix3 commands), :mod:`monai_fodgan.data`
(synthetic FOD images).
"""

__version__ = "0.1.0"
