"""Tractography with DIPY (pure Python, no MRtrix3): probabilistic and deterministic tracking from SH.

DIPY's trackers interpret SH coefficients in the VOXEL frame (its sphere directions are steps along the voxel
axes), while MRtrix3 stores them in the WORLD frame. On an isotropic grid whose voxel axes are the orthonormal
``Q = affine[:3, :3] / voxel`` (a rotation, possibly with a reflection), the voxel-frame FOD is
f_vox(u) = f_world(Q u): the coefficients are rotated with ``rotate_sh(c, Q^T)`` before DIPY sees them. On the
axis-aligned RAS grids that ``monai_fodgan.prepare`` writes, Q is the identity and nothing changes; on oblique
grids skipping this step sends every streamline the wrong way.

Connectomes count streamlines (DIPY has no SIFT2): the report says so next to the numbers. Whole-brain tracking
runs in batches of seeds and keeps only endpoints, so millions of streamlines need little memory.
"""

from __future__ import annotations

import numpy as np
import torch

from monai_fodgan.evaluation.connectome import assign_endpoints, connectome_from_assignments
from monai_fodgan.evaluation.streamlines import visits_region
from monai_fodgan.evaluation.tractography.common import ALGORITHMS, TrackingImage, TrackingSettings, TractRegions
from monai_fodgan.sh import rotate_sh

__all__ = ["DipyTracker", "voxel_frame_sh"]

_BATCH = 20_000


def voxel_frame_sh(fod: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World-frame SH (X, Y, Z, C) of an isotropic grid re-expressed in its voxel frame (what DIPY tracks on)."""
    spacing = np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)
    q = np.asarray(affine)[:3, :3] / spacing
    if np.allclose(q, np.eye(3), atol=1e-9):
        return np.asarray(fod, dtype=np.float64)
    return rotate_sh(torch.from_numpy(np.asarray(fod, dtype=np.float64)), torch.from_numpy(q.T)).numpy()


class DipyTracker:
    """DIPY tracking on one subject (see the module docstring for the frame handling).

    Args:
        image: the subject's isotropic tracking image.
        settings: shared tracking settings.
    """

    name = "dipy"
    weighted = False

    def __init__(self, image: TrackingImage, settings: TrackingSettings) -> None:
        from dipy.tracking.stopping_criterion import BinaryStoppingCriterion

        self.image = image
        self.settings = settings
        self.sh = voxel_frame_sh(image.fod, image.affine)
        self.stopping = BinaryStoppingCriterion(image.mask.astype(np.uint8))
        self.rng = np.random.default_rng(settings.seed)

    def _seeds(self, region: np.ndarray, n: int) -> np.ndarray:
        """``n`` world points uniformly at random inside the voxels of ``region`` (tracking grid)."""
        voxels = np.argwhere(region)
        if len(voxels) == 0:
            return np.zeros((0, 3))
        pick = voxels[self.rng.integers(0, len(voxels), n)] + self.rng.uniform(-0.5, 0.5, (n, 3))
        return pick @ self.image.affine[:3, :3].T + self.image.affine[:3, 3]

    def _track(self, algorithm: str, seeds: np.ndarray) -> list[np.ndarray]:
        from dipy.data import default_sphere
        from dipy.tracking.tracker import deterministic_tracking, probabilistic_tracking

        _, _, angle = ALGORITHMS[algorithm]
        voxel = self.image.voxel
        run = probabilistic_tracking if algorithm == "probabilistic" else deterministic_tracking
        tractogram = run(seeds, self.stopping, self.image.affine, sh=self.sh, sphere=default_sphere,
                         basis_type="tournier07", legacy=False, step_size=self.settings.step(algorithm, voxel), max_angle=angle,
                         pmf_threshold=self.settings.cutoff, min_len=self.settings.min_length(voxel),
                         max_len=self.settings.max_length_mm, nbr_threads=self.settings.nthreads,
                         random_seed=int(self.rng.integers(1, 2**31 - 1)), return_all=False)
        return [np.asarray(s, dtype=np.float32) for s in tractogram]

    def connectome(self, labels: np.ndarray, labels_affine: np.ndarray, n_nodes: int, n_streamlines: int) -> tuple[np.ndarray, dict]:
        matrix = np.zeros((n_nodes, n_nodes))
        done, seeds_used = 0, 0
        max_seeds = 1000 * n_streamlines  # as MRtrix3's tckgen -select gives up
        while done < n_streamlines and seeds_used < max_seeds:
            batch = min(_BATCH, max(2 * (n_streamlines - done), 100))
            streamlines = self._track("probabilistic", self._seeds(self.image.mask, batch))[: n_streamlines - done]
            seeds_used += batch
            if streamlines:
                ends = np.stack([np.stack([s[0], s[-1]]) for s in streamlines])
                matrix += connectome_from_assignments(assign_endpoints(ends, labels, labels_affine), n_nodes)
                done += len(streamlines)
            if not self.image.mask.any():
                break
        return matrix, {"streamlines": done, "seeds": seeds_used, "weights": "streamline count (no SIFT2 in DIPY)"}

    def tract(self, algorithm: str, regions: TractRegions, n_streamlines: int) -> list[np.ndarray]:
        from scipy.ndimage import map_coordinates

        if not regions.reachable:
            return []
        # the seed region on the tracking grid (nearest neighbour from the region's grid)
        idx = np.stack(np.meshgrid(*[np.arange(s) for s in self.image.mask.shape], indexing="ij"), 0).reshape(3, -1)
        world = self.image.affine[:3, :3] @ idx + self.image.affine[:3, 3:4]
        ijk = np.linalg.inv(regions.affine[:3, :3]) @ (world - regions.affine[:3, 3:4])
        seed_region = map_coordinates(regions.include[0].astype(np.float32), ijk, order=0).reshape(self.image.mask.shape) > 0
        kept: list[np.ndarray] = []
        seeds_used, max_seeds = 0, self.settings.seeds_per_streamline * n_streamlines
        while len(kept) < n_streamlines and seeds_used < max_seeds and seed_region.any():
            batch = min(_BATCH, max(4 * (n_streamlines - len(kept)), 200))
            candidates = self._track(algorithm, self._seeds(seed_region, batch))
            seeds_used += batch
            ok = np.ones(len(candidates), dtype=bool)
            for region in regions.include[1:]:
                ok &= visits_region(candidates, region, regions.affine) if ok.any() else ok
            for region in regions.active_exclude:
                ok &= ~visits_region(candidates, region, regions.affine) if ok.any() else ok
            kept += [s for s, good in zip(candidates, ok) if good]
        return kept[:n_streamlines]
