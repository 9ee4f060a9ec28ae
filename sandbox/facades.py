"""Safe stand-ins for math, statistics, numpy and pandas: objects exporting only named functions."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sandbox import policy
from sandbox.errors import SandboxViolation


class Facade:
    """A read-only namespace holding a module's allowed functions, never the module itself."""

    __slots__ = ("_exports", "_name")

    def __init__(self, name: str, exports: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_exports", MappingProxyType(dict(exports)))

    def __getattr__(self, attribute: str) -> Any:
        try:
            return self._exports[attribute]
        except KeyError:
            raise AttributeError(
                f"'{attribute}' is not available in the sandboxed {self._name}"
            ) from None

    def __setattr__(self, attribute: str, value: object) -> None:
        raise SandboxViolation(f"the {self._name} module cannot be changed")

    def __delattr__(self, attribute: str) -> None:
        raise SandboxViolation(f"the {self._name} module cannot be changed")

    def __repr__(self) -> str:
        return f"<sandboxed module {self._name}>"


def build_facade(module_name: str) -> Facade:
    """The facade for one allowed module, exporting exactly `policy.MODULE_EXPORTS[name]`."""
    exports = policy.MODULE_EXPORTS[module_name]
    module = importlib.import_module(module_name)
    values: dict[str, Any] = {}
    for name in sorted(exports):
        value = getattr(module, name, None)
        if value is None or isinstance(value, type(importlib)):
            continue  # missing on this version, or a module: never handed out
        values[name] = value
    return Facade(module_name, values)


def build_facades() -> dict[str, Facade]:
    """One facade per allowed module, keyed by its import name."""
    return {name: build_facade(name) for name in policy.ALLOWED_MODULES}


_LIBRARY_PACKAGES = ("numpy", "pandas", "pyarrow", "dateutil", "pytz", "zoneinfo")


def _is_library_import(name: str, fromlist: object) -> bool:
    """True for an import made by C code running on behalf of the strategy.

    Frames take builtins from their globals, so a C method called from strategy code (numpy's
    ndarray.mean loading numpy._core._methods) reaches our `__import__`. CPython's
    PyImport_Import passes `fromlist` as the *list* ['__doc__']; the IMPORT_NAME bytecode of
    strategy code passes a tuple or None, and strategy code cannot call __import__ itself.
    """
    if not isinstance(fromlist, list):
        return False
    return name in sys.modules or name.split(".", 1)[0] in _LIBRARY_PACKAGES


def make_importer(facades: Mapping[str, Facade]) -> Any:
    """The `__import__` the sandboxed module sees: allowed names give facades, others fail."""

    def sandboxed_import(
        name: str,
        globals: object = None,
        locals: object = None,
        fromlist: object = (),
        level: int = 0,
    ) -> Any:
        if _is_library_import(name, fromlist):
            return importlib.import_module(name)
        if level != 0 or name not in facades:
            allowed = ", ".join(policy.ALLOWED_MODULES)
            raise SandboxViolation(
                f"importing '{name}' is not allowed; available modules are {allowed}"
            )
        return facades[name]

    return sandboxed_import
