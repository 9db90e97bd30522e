"""Tractography with MRtrix3, as the paper did: iFOD2 and FACT, SIFT2 weights, ``tck2connectome``.

Whole brain: ``tckgen -algorithm iFOD2 -seed_image mask -select N -maxlength 250`` on the isotropic FOD,
``tcksift2`` for per-streamline weights, ``tck2connectome -tck_weights_in -symmetric -zero_diagonal`` on the
subject's AAL labels (default radial-search assignment, 4 mm). Tracts: ``tckgen -seed_image include[0]
-include ... -exclude ...`` with iFOD2 on the FOD or FACT on its peaks (``sh2peaks``). Every command goes through
:func:`monai_fodgan.mrtrix.run_mrtrix`; ``MRTRIX_RNG_SEED`` makes runs reproducible, but only single-threaded
(``tckgen`` with a fixed seed differs between runs with 2 threads), so the evaluation tracks with
``settings.nthreads = 1`` and runs subjects in parallel instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_fodgan.evaluation.connectome import pad_connectome
from monai_fodgan.evaluation.streamlines import load_tck
from monai_fodgan.evaluation.tractography.common import ALGORITHMS, TrackingImage, TrackingSettings, TractRegions
from monai_fodgan.io import save_nifti
from monai_fodgan.mrtrix import run_mrtrix

__all__ = ["MRtrixTracker"]


def read_mrtrix_matrix(path: Path) -> np.ndarray:
    """A matrix written by MRtrix3 (comma- or whitespace-delimited text; ``#`` comment lines)."""
    text = "\n".join(line for line in Path(path).read_text().splitlines() if line.strip() and not line.startswith("#"))
    rows = [[float(v) for v in line.replace(",", " ").split()] for line in text.splitlines()]
    return np.array(rows, dtype=np.float64).reshape(len(rows), -1) if rows else np.zeros((0, 0))


class MRtrixTracker:
    """MRtrix3 tracking on one subject; images are written to ``image.work`` once and reused.

    Args:
        image: the subject's isotropic tracking image.
        settings: shared tracking settings.
    """

    name = "mrtrix"
    weighted = True

    def __init__(self, image: TrackingImage, settings: TrackingSettings) -> None:
        self.image = image
        self.settings = settings
        self.work = Path(image.work)
        self.fod_path = self.work / "fod_iso.nii"
        self.mask_path = self.work / "mask_iso.nii"
        save_nifti(np.moveaxis(image.fod, -1, 0), image.affine, self.fod_path)
        save_nifti(image.mask.astype(np.uint8), image.affine, self.mask_path, dtype=np.uint8)
        self._peaks: Path | None = None
        self._calls = 0

    def _run(self, command: str, *args: str | Path | float) -> None:
        self._calls += 1  # a different seed per call, reproducible for the run
        run_mrtrix(command, *args, "-force", nthreads=self.settings.nthreads,
                   env={"MRTRIX_RNG_SEED": str(self.settings.seed * 1000 + self._calls)})

    def _common(self, algorithm: str) -> list[str | float]:
        name, _, angle = ALGORITHMS[algorithm]
        voxel = self.image.voxel
        return ["-algorithm", name, "-step", self.settings.step(algorithm, voxel), "-angle", angle, "-cutoff", self.settings.cutoff,
                "-minlength", self.settings.min_length(voxel), "-maxlength", self.settings.max_length_mm]

    def _source(self, algorithm: str) -> Path:
        """The FOD for iFOD2; for FACT its peaks (three per voxel, amplitude as vector length)."""
        if algorithm == "probabilistic":
            return self.fod_path
        if self._peaks is None:
            self._peaks = self.work / "peaks_iso.nii"
            self._run("sh2peaks", self.fod_path, self._peaks, "-num", 3, "-mask", self.mask_path)
        return self._peaks

    def connectome(self, labels: np.ndarray, labels_affine: np.ndarray, n_nodes: int, n_streamlines: int) -> tuple[np.ndarray, dict]:
        tck, weights, parc, out = (self.work / n for n in ("wholebrain.tck", "sift2_weights.txt", "aal.nii", "connectome.csv"))
        save_nifti(labels.astype(np.int16), labels_affine, parc, dtype=np.int16)
        self._run("tckgen", self.fod_path, tck, *self._common("probabilistic"), "-seed_image", self.mask_path,
                  "-select", n_streamlines)
        count = len(load_tck(tck)) if tck.stat().st_size > 0 else 0
        info: dict = {"streamlines": count, "weights": "SIFT2"}
        if count == 0:
            return np.zeros((n_nodes, n_nodes)), info
        self._run("tcksift2", tck, self.fod_path, weights)
        w = np.loadtxt(weights, comments="#", ndmin=1)
        info["mean_sift2_weight"] = float(w.mean()) if w.size else 0.0
        self._run("tck2connectome", tck, parc, out, "-tck_weights_in", weights, "-symmetric", "-zero_diagonal")
        matrix = pad_connectome(read_mrtrix_matrix(out), n_nodes)
        tck.unlink(missing_ok=True)  # millions of streamlines at paper scale: only the matrix is kept
        return matrix, info

    def tract(self, algorithm: str, regions: TractRegions, n_streamlines: int) -> list[np.ndarray]:
        if not regions.reachable:
            return []
        paths = []
        for role, volumes in (("include", regions.include), ("exclude", regions.active_exclude)):
            for k, volume in enumerate(volumes):
                path = self.work / f"roi_{role}{k}.nii"
                save_nifti(volume.astype(np.uint8), regions.affine, path, dtype=np.uint8)
                paths.append((role, path))
        args: list[str | float | Path] = ["-seed_image", paths[0][1]]
        for role, path in paths[1:]:
            args += [f"-{role}", path]
        tck = self.work / "tract.tck"
        self._run("tckgen", self._source(algorithm), tck, *self._common(algorithm), *args, "-select", n_streamlines,
                  "-seeds", self.settings.seeds_per_streamline * n_streamlines)
        return load_tck(tck)
