"""Parameters of an evaluation run, and the checks made on them before any work starts.

The paper's numbers (5 million streamlines, 250 mm, 1 mm masks, 100 points along tracts, 116 AAL regions) are
the defaults here and appear, with their source, in the bundle's ``configs/evaluate.json``; the MRtrix3 defaults
(FOD amplitude cutoff 0.1) are MRtrix3's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from monai_fodgan.evaluation.atlas import DEFAULT_TRACTS, TRACT_REGIONS
from monai_fodgan.evaluation.registration import TEMPLATES
from monai_fodgan.evaluation.tractography.settings import ALGORITHMS, BACKEND_NAMES, TrackingSettings
from monai_fodgan.executors import check_parallelism
from monai_fodgan.mrtrix import mrtrix_available

__all__ = ["EvaluationConfig", "resolve_backends"]

_BACKEND_CHOICES = ("auto", "both", *BACKEND_NAMES)


@dataclass
class EvaluationConfig:
    """Everything an evaluation needs.

    Attributes:
        synthetic: folder of synthetic FOD NIfTIs (``sub-synth*.nii.gz``) or a datalist JSON.
        reference: the real subjects to compare with (the paper: its 100 validation subjects): a folder or the
            datalist written by ``monai_fodgan.prepare`` (key ``reference_key``).
        out: output folder (``metrics.json``, ``figures/``, ``report.html``, ``cache/``).
        training: optional training subjects (folder or datalist, key ``training_key``) for the memorisation check.
        backend: "auto" (MRtrix3 when installed, else DIPY), "mrtrix", "dipy" or "both".
        tracts: tracts to reconstruct (see :data:`~.atlas.TRACT_REGIONS`).
        algorithms: "deterministic" (FACT / DIPY deterministic) and/or "probabilistic" (iFOD2 / DIPY probabilistic).
        streamlines: whole-brain streamlines per subject for the connectome (paper: 5,000,000).
        tract_streamlines: streamlines per tract and algorithm (TractSeg's default 2000).
        tract_seeds: a tract's seed budget, in seeds per requested streamline (MRtrix3's default is 1000).
        voxel_mm: isotropic tracking voxel; None: the data's smallest voxel size (paper: 1.25 mm).
        cutoff: FOD amplitude cutoff (MRtrix3's default 0.1; an FOD amplitude, independent of the voxel size).
        step_voxels: tracking step in voxels of the tracking image; None: the algorithm's MRtrix3 default (iFOD2 0.5,
            FACT 0.1 voxel), so the step scales with the data's voxel size.
        min_length_voxels: shortest streamline kept, in voxels of the tracking image (MRtrix3's default: 5).
        max_length_mm: maximum streamline length (paper: 250 mm).
        mask_voxel_mm: voxel size of tract masks (paper: 1 mm).
        mask_threshold: fraction of a tract's streamlines a mask voxel needs (0: any, as the paper).
        profile_points: points along each tract (paper: 100).
        atlas: "register" (register a template to every subject) or "mni" (the sets are in MNI space already).
        template: registration template: "mni-wm", "phantom" or a NIfTI path (see :mod:`~.registration`).
        syn: SyN after the affine registration.
        truth: a phantom population folder; its ground-truth bundles and AAL labels are compared where subject
            names match (the demo's validation subjects).
        histogram_bins: bins per SH coefficient histogram.
        mantel_permutations, mmd_permutations: permutations of the two tests.
        jobs: subjects processed in parallel. Tracking runs one thread per subject, so the results do not depend
            on ``jobs``; the other steps use CPU count / jobs threads.
        scheduler: address of a Dask scheduler (``tcp://host:port``) whose workers analyse the subjects instead of
            ``jobs`` local processes (they must see the inputs and ``out`` at the same paths; the paths are made
            absolute). The numbers are the same either way.
        memory_gb: memory for images held at once by the pairwise distances.
        seed: seed of tractography and of the permutation tests.
        progress: show progress bars.
        wait: when another run is using ``out``, wait for it instead of refusing.
        cache: folder of the intermediate results; None: ``out/cache``. Results are keyed by input contents and
            parameters, so evaluations of several synthetic sets against the same reference can share one cache
            and analyse each reference subject once.
    """

    synthetic: Path
    reference: Path
    out: Path
    training: Path | None = None
    synthetic_key: str = "synthetic"
    reference_key: str = "validation"
    training_key: str = "training"
    backend: str = "auto"
    tracts: tuple[str, ...] = DEFAULT_TRACTS
    algorithms: tuple[str, ...] = ("deterministic", "probabilistic")
    streamlines: int = 5_000_000
    tract_streamlines: int = 2000
    tract_seeds: int = TrackingSettings.seeds_per_streamline
    voxel_mm: float | None = TrackingSettings.voxel_mm
    cutoff: float = TrackingSettings.cutoff
    step_voxels: float | None = TrackingSettings.step_voxels
    min_length_voxels: float = TrackingSettings.min_length_voxels
    max_length_mm: float = TrackingSettings.max_length_mm
    mask_voxel_mm: float = 1.0
    mask_threshold: float = 0.0
    profile_points: int = 100
    atlas: str = "register"
    template: str = "mni-wm"
    syn: bool = True
    truth: Path | None = None
    histogram_bins: int = 100
    mantel_permutations: int = 999
    mmd_permutations: int = 1000
    jobs: int = 1
    scheduler: str | None = None
    memory_gb: float = 4.0
    seed: int = 0
    progress: bool = True
    wait: bool = False
    cache: Path | None = None

    def __post_init__(self) -> None:
        self.synthetic, self.reference, self.out = Path(self.synthetic), Path(self.reference), Path(self.out)
        self.cache = None if self.cache in (None, "") else Path(self.cache)
        self.training = None if self.training in (None, "") else Path(self.training)
        self.truth = None if self.truth in (None, "") else Path(self.truth)
        self.tracts = tuple(self.tracts)
        self.algorithms = tuple(self.algorithms)
        unknown = [t for t in self.tracts if t not in TRACT_REGIONS]
        if unknown:
            raise ValueError(f"unknown tracts {unknown}; known: {sorted(TRACT_REGIONS)}.")
        bad = [a for a in self.algorithms if a not in ALGORITHMS]
        if bad:
            raise ValueError(f"unknown algorithms {bad}; known: {sorted(ALGORITHMS)}.")
        if self.backend not in _BACKEND_CHOICES:
            raise ValueError(f"backend must be one of {_BACKEND_CHOICES}, got {self.backend!r}.")
        if self.atlas not in ("register", "mni"):
            raise ValueError(f"atlas must be 'register' or 'mni', got {self.atlas!r}.")
        if self.atlas == "register" and self.template not in TEMPLATES and not Path(self.template).is_file():
            raise FileNotFoundError(f"template {self.template}: no such file (or use one of {TEMPLATES}).")
        if self.truth is not None and not self.truth.is_dir():
            raise FileNotFoundError(f"truth {self.truth}: no such folder (a phantom population written by "
                                    "python -m monai_fodgan.data.phantom).")
        for name in ("streamlines", "tract_streamlines", "tract_seeds", "profile_points", "histogram_bins", "mantel_permutations",
                     "mmd_permutations", "jobs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        check_parallelism(self.jobs, self.scheduler)
        if self.scheduler:  # Dask workers may start in another folder
            self.synthetic, self.reference, self.out = self.synthetic.absolute(), self.reference.absolute(), self.out.absolute()
            self.training = None if self.training is None else self.training.absolute()
            self.cache = None if self.cache is None else self.cache.absolute()
            self.truth = None if self.truth is None else self.truth.absolute()
            if self.template not in TEMPLATES:
                self.template = str(Path(self.template).absolute())
        if self.step_voxels is not None and not self.step_voxels > 0:
            raise ValueError(f"step_voxels must be > 0 (or None), got {self.step_voxels}.")
        if not self.min_length_voxels >= 0:
            raise ValueError(f"min_length_voxels must be >= 0, got {self.min_length_voxels}.")
        if not 0.0 <= self.mask_threshold < 1.0:
            raise ValueError(f"mask_threshold must be in [0, 1), got {self.mask_threshold}.")

    @property
    def cache_dir(self) -> Path:
        """Where intermediate results are kept (``cache``, or ``out/cache``)."""
        return self.out / "cache" if self.cache is None else self.cache

    def as_dict(self) -> dict:
        """The configuration as JSON-serialisable values (recorded in ``metrics.json``)."""
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


def resolve_backends(name: str) -> list[str]:
    """Backend names to run for ``name``; raises before any work when MRtrix3 is asked for but not installed."""
    if name == "auto":
        return ["mrtrix"] if mrtrix_available("tckgen") else ["dipy"]
    wanted = ["mrtrix", "dipy"] if name == "both" else [name]
    if "mrtrix" in wanted and not mrtrix_available("tckgen"):
        raise RuntimeError("the MRtrix3 tractography backend needs MRtrix3 (tckgen, tcksift2, tck2connectome) on PATH; "
                           "install it (apt-get install mrtrix3) or use --backend dipy.")
    return wanted
