"""How a 3D grid is built up (generator) or taken down (critic) by factor-2 stages.

The paper's generator starts from 4 x 4 x 4 and doubles every axis until it reaches 128 x 128 x 64, the
shortest axis stopping early: stages (2,2,2) x 4 then (2,2,1). The critic mirrors it. Deriving the stages
from the grid lets the same networks run on the demo's 32 x 32 x 16 or any other power-of-two grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["stage_factors", "start_shape"]


def start_shape(spatial_shape: Sequence[int], levels: int, min_size: int = 4) -> tuple[int, ...]:
    """Grid the generator starts from: ``shape / 2**levels`` per axis, but never below ``min_size``.

    Raises:
        ValueError: an axis is not ``start * 2**k`` (the stages could not reach it exactly).
    """
    start = []
    for size in spatial_shape:
        s = max(size // 2**levels, min(min_size, size))
        k = math.log2(size / s) if s else -1
        if s * 2 ** round(k) != size or k < 0 or round(k) > levels:
            raise ValueError(
                f"grid {tuple(spatial_shape)} cannot be reached by {levels} factor-2 stages from a start of "
                f"at least {min_size} voxels: each axis must be a power-of-two multiple of its start size."
            )
        start.append(s)
    return tuple(start)


def stage_factors(spatial_shape: Sequence[int], levels: int, min_size: int = 4) -> list[tuple[int, ...]]:
    """Per stage, the factor (2 or 1) of each axis, doubling axes that still need it first.

    Example (the paper's grid)::

        >>> stage_factors((128, 128, 64), 5)
        [(2, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 1)]
    """
    start = start_shape(spatial_shape, levels, min_size)
    doublings = [round(math.log2(size / s)) for size, s in zip(spatial_shape, start)]
    return [tuple(2 if stage < d else 1 for d in doublings) for stage in range(levels)]
