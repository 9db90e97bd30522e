"""Lazy re-exports for package ``__init__`` files.

A package re-exports its public names (``from monai_fodgan.transforms import SHRotated``) but imports the submodule
that defines one only when the name is first used. Why: the command lines (``python -m monai_fodgan.prepare --help``)
import these packages, and an eager ``__init__`` would load torch, MONAI and DIPY (10 s and more) before parsing a
single argument.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` (PEP 562) that import each name from its submodule on first use.

    Args:
        package: the package's ``__name__``.
        exports: submodule (absolute name) -> names it defines that the package re-exports.

    Returns:
        ``(__getattr__, __dir__)``; assign both in the package's ``__init__``.

    Example::

        __getattr__, __dir__ = lazy_exports(__name__, {"monai_fodgan.io": ["load_fod"]})
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later look-ups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
