"""Tracking settings and algorithm names, without the heavy imports of the backends.

Kept apart from :mod:`.common` so that the evaluation's configuration and its command line (``--help``) can read
the defaults without loading torch or DIPY.

Units, so that one set of settings serves any grid: what is a property of the IMAGE scales with its voxel size
(the step and the shortest streamline are given in voxels of the tracking image, as MRtrix3's defaults are); what
is a property of the ANATOMY or of the FOD stays absolute (the longest streamline in mm; the cutoff in FOD
amplitude, which is a density per unit volume and does not change with the voxel size); seed budgets are counts
per requested streamline. On the paper's 1.25 mm grid this gives MRtrix3's iFOD2 step 0.625 mm and minimum length
6.25 mm; on the demo's 3.125 mm grid 1.56 mm and 15.6 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALGORITHMS", "BACKEND_NAMES", "TrackingSettings"]

#: Tractography backends (see :data:`monai_fodgan.evaluation.tractography.BACKENDS` for their classes).
BACKEND_NAMES: tuple[str, ...] = ("mrtrix", "dipy")

#: Tracking algorithms: name -> (MRtrix3 algorithm, step in voxels, maximum angle per step in degrees).
ALGORITHMS: dict[str, tuple[str, float, float]] = {
    "probabilistic": ("iFOD2", 0.5, 45.0),
    "deterministic": ("FACT", 0.1, 60.0),
}


@dataclass(frozen=True)
class TrackingSettings:
    """Parameters shared by both backends.

    Attributes:
        voxel_mm: isotropic voxel size of the tracking image; None: the smallest voxel size of the data (on the
            paper's 1.25 x 1.61 x 2.5 mm grid that is the paper's 1.25 mm).
        cutoff: FOD amplitude below which streamlines stop (MRtrix3's default 0.1, in the FOD's own units).
        max_length_mm: longest streamline kept (paper: 250 mm).
        min_length_mm: shortest streamline kept in mm; None: ``min_length_voxels`` voxels.
        min_length_voxels: shortest streamline kept, in voxels of the tracking image (MRtrix3's default without
            ACT: 5).
        step_voxels: step size in voxels of the tracking image; None: the algorithm's MRtrix3 default
            (:data:`ALGORITHMS`: iFOD2 0.5, FACT 0.1).
        seed: random seed (MRtrix3 through ``MRTRIX_RNG_SEED``; DIPY's tracker ``random_seed``).
        nthreads: threads per tracking command.
        seeds_per_streamline: a tract's seed budget, in seeds per requested streamline. MRtrix3's own default is
            1000; a tract that 100 x N seeds do not find is absent for practical purposes, and synthetic subjects
            missing several tracts would otherwise spend minutes each on seeds that cannot succeed.
    """

    voxel_mm: float | None = None
    cutoff: float = 0.1
    max_length_mm: float = 250.0
    min_length_mm: float | None = None
    min_length_voxels: float = 5.0
    step_voxels: float | None = None
    seed: int = 0
    nthreads: int = 1
    seeds_per_streamline: int = 100

    def min_length(self, voxel: float) -> float:
        """Shortest streamline in mm on a tracking image of ``voxel`` mm."""
        return self.min_length_voxels * voxel if self.min_length_mm is None else float(self.min_length_mm)

    def step(self, algorithm: str, voxel: float) -> float:
        """Step size in mm of ``algorithm`` on a tracking image of ``voxel`` mm."""
        return (ALGORITHMS[algorithm][1] if self.step_voxels is None else float(self.step_voxels)) * voxel
