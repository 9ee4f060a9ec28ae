"""Modules imported on first use: pandas for the command line's run path.

`strategylab run` reads its CSV with pyarrow, sends the bars to its sandbox worker and writes
the run folder with numpy; pandas (0.3 s of the CLI's 0.9 s of imports) is needed only by the
worker, which computes the indicators, and by the doors that read or store a DataFrame. The
modules on the run path name it as

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = deferred("pandas")

so type checkers see pandas itself and the process imports it when code first touches one of
its names (`pd.DataFrame`, `pd.Timestamp`, ...), not when the module is imported. This is the
standard library's `importlib.util.LazyLoader`; written here only is the three-line set-up
the library's documentation gives, kept in one place. tests/test_deferred_imports.py checks
that a CSV run's CLI process never imports pandas.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType

_LOCK = threading.Lock()


def deferred(name: str) -> ModuleType:
    """The top-level module `name`, loaded on its first attribute access: the module itself
    when something imported it already; otherwise a stand-in in sys.modules that becomes the
    module (the same object) when first used, whoever imports it meanwhile."""
    with _LOCK:
        loaded = sys.modules.get(name)
        if loaded is not None:
            return loaded
        if "." in name:  # finding a submodule imports its package: no deferral left to give
            raise ValueError(f"deferred() takes a top-level module, not {name!r}")
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        return module
