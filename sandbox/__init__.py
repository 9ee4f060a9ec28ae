"""Strategy Lab's security boundary: validation, restricted compilation and the isolated worker.

Its public names are imported on first use (PEP 562), so `import sandbox.worker_process` costs
nothing more than that module: the CLI starts a run's worker before it imports numpy, pandas
and the engine (app/cli.py). `from sandbox import X` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sandbox.compile import CompiledStrategy, compile_strategy
    from sandbox.diagnostics import Diagnostic, Severity, has_errors
    from sandbox.errors import (
        LimitExceeded,
        ProtocolError,
        RunCancelled,
        SandboxError,
        SandboxViolation,
        StrategyFailed,
        StrategyRejected,
        WorkerFailed,
    )
    from sandbox.forkserver import ForkServer, ForkServerError
    from sandbox.indicator_points import ChartRequest, Points
    from sandbox.inspection import ParamSpec, SourceInspection, inspect_source
    from sandbox.limits import LimitsRefused, OperatorMaximums, RunLimits
    from sandbox.pool import WorkerPool, lower_thread_priority
    from sandbox.shared_indicators import SharedIndicators
    from sandbox.supervisor import WarmWorker, run_sandboxed, start_fork_server, start_worker
    from sandbox.validate import declared_params, validate_source

_EXPORTED_FROM: Final[dict[str, str]] = {
    **dict.fromkeys(("compile_strategy", "CompiledStrategy"), "sandbox.compile"),
    **dict.fromkeys(("Diagnostic", "has_errors", "Severity"), "sandbox.diagnostics"),
    **dict.fromkeys(
        (
            "LimitExceeded",
            "ProtocolError",
            "RunCancelled",
            "SandboxError",
            "SandboxViolation",
            "StrategyFailed",
            "StrategyRejected",
            "WorkerFailed",
        ),
        "sandbox.errors",
    ),
    **dict.fromkeys(("ForkServer", "ForkServerError"), "sandbox.forkserver"),
    **dict.fromkeys(("ChartRequest", "Points"), "sandbox.indicator_points"),
    **dict.fromkeys(("inspect_source", "ParamSpec", "SourceInspection"), "sandbox.inspection"),
    **dict.fromkeys(("LimitsRefused", "OperatorMaximums", "RunLimits"), "sandbox.limits"),
    **dict.fromkeys(("lower_thread_priority", "WorkerPool"), "sandbox.pool"),
    **dict.fromkeys(("SharedIndicators",), "sandbox.shared_indicators"),
    **dict.fromkeys(
        ("run_sandboxed", "start_fork_server", "start_worker", "WarmWorker"), "sandbox.supervisor"
    ),
    **dict.fromkeys(("declared_params", "validate_source"), "sandbox.validate"),
}
"""Public name -> the module that defines it."""


def __getattr__(name: str) -> object:
    module = _EXPORTED_FROM.get(name)
    if module is None:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTED_FROM})


__all__ = [
    "ChartRequest",
    "CompiledStrategy",
    "Diagnostic",
    "ForkServer",
    "ForkServerError",
    "LimitExceeded",
    "LimitsRefused",
    "OperatorMaximums",
    "ParamSpec",
    "Points",
    "ProtocolError",
    "RunCancelled",
    "RunLimits",
    "SandboxError",
    "SandboxViolation",
    "Severity",
    "SharedIndicators",
    "SourceInspection",
    "StrategyFailed",
    "StrategyRejected",
    "WarmWorker",
    "WorkerFailed",
    "WorkerPool",
    "compile_strategy",
    "declared_params",
    "has_errors",
    "inspect_source",
    "lower_thread_priority",
    "run_sandboxed",
    "start_fork_server",
    "start_worker",
    "validate_source",
]
