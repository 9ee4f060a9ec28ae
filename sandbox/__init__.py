"""Strategy Lab's security boundary: validation, restricted compilation and the isolated worker."""

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
