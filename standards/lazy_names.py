"""A package's names imported from their modules on first use (PEP 562): importing the package is cheap."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: each name of ``homes`` (name -> module) is imported
    from its module when first asked for and kept in ``namespace`` (the package's ``globals()``), so
    later lookups are plain attribute reads. Use: ``__getattr__ = lazy_names(__name__, _HOMES, globals())``."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(home), name)
        namespace[name] = value  # once
        return value

    return __getattr__
