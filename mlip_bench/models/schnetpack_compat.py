"""Compatibility shim that lets schnetpack 2.0.4 import under recent torch (2.13).

schnetpack 2.0.4 (the last release that supports Python 3.11) does, in
``schnetpack/data/loader.py``::

    from torch.utils.data.dataloader import _collate_fn_t, T_co

``T_co`` is a typing-only ``TypeVar`` that torch renamed to ``_T_co``; under torch 2.13 the import
fails and so does ``import schnetpack``. The symbol is used only in type annotations, so the shim
puts a covariant ``TypeVar`` back under the old name (torch's own ``_T_co`` when it exists). It
changes nothing else in torch and is idempotent.

Always import schnetpack through :func:`import_schnetpack` (or call :func:`apply_schnetpack_compat`
first): the patch must be in place before schnetpack's ``data`` package is first imported.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TypeVar

from mlip_bench.errors import ModelError

INSTALL_HINT = "schnetpack is not installed; pip install 'mlip-bench[schnetpack]'"

#: (module, missing name, replacement name in the same module or None for a fresh TypeVar)
_MISSING_TYPEVARS = (("torch.utils.data.dataloader", "T_co", "_T_co"),)


def apply_schnetpack_compat() -> list[str]:
    """Restore the names schnetpack 2.0.4 imports from torch; return what was patched.

    Idempotent: a second call (or a torch that still has the names) patches nothing and
    returns an empty list.
    """
    patched = []
    for module_name, name, replacement in _MISSING_TYPEVARS:
        module = importlib.import_module(module_name)
        if hasattr(module, name):
            continue
        value = getattr(module, replacement, None) if replacement else None
        if not isinstance(value, TypeVar):
            value = TypeVar(name, covariant=True)
        setattr(module, name, value)
        patched.append(f"{module_name}.{name}")
    return patched


def import_schnetpack() -> ModuleType:
    """Apply the shim, then import and return ``schnetpack`` (ModelError if it is not installed)."""
    apply_schnetpack_compat()
    try:
        return importlib.import_module("schnetpack")
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] == "schnetpack":
            raise ModelError(INSTALL_HINT) from None
        raise ModelError(
            f"schnetpack is installed but its dependency {err.name!r} is missing; pip install 'mlip-bench[schnetpack]'"
        ) from None
