"""The sandbox worker process: reads one job, locks itself down, runs the strategy, reports back.

Started by the supervisor as `python -s -m sandbox.worker` with the protocol on stdin/stdout.
Heavy modules are imported, and the libraries warmed up, before the lock-down so that the job's
first indicator call is fast; what numba still imports when a run first loads one of its kernels
is read from the packages the lock-down leaves readable (sandbox.limits.readable_paths).
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import os
import select
import statistics  # noqa: F401  (imported before the lock-down: the facade needs it)
import sys
import traceback
import typing
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt
from numba.core import caching

from app.engine import (
    Bar,
    ConfigError,
    EngineError,
    IndicatorError,
    MarketData,
    OrderRecord,
    Progress,
    RecordLimitExceeded,
    RunConfig,
    RunRecord,
    Strategy,
    StrategyRuntimeError,
    Trade,
    crossover,
    simulate,
)
from app.engine.feed import FloatArray
from app.engine.indicators import IndicatorArg, IndicatorSource, load_indicator_libraries
from app.engine.loop import cut_after_end
from sandbox import codec, limits
from sandbox.checkpoint_wire import CheckpointStream, checkpoint_from_job
from sandbox.compile import compile_strategy
from sandbox.errors import ProtocolError, StrategyRejected
from sandbox.indicator_calls import count_indicator_calls
from sandbox.indicator_points import MAX_CHART_POINTS, POINTS_KEY, ChartRecorder
from sandbox.memory_watch import (
    MemoryExhausted,
    MemoryWatch,
    is_memory_error,
    use_system_allocator,
)
from sandbox.protocol import PARENT_MESSAGES, Chunk, Frame, FrameReader, encode, encode_parts

MAX_JOB_JSON_BYTES: Final = 16 * 1024 * 1024
MAX_JOB_BLOB_BYTES: Final = 4 * 1024 * 1024 * 1024


class ParentChannel:
    """The frames the parent sends on `fd`: the job, then (a sweep trial) the answers to its
    indicator requests. Reads what the pipe holds (never waits for more than one frame)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._reader = FrameReader(
            max_json_bytes=MAX_JOB_JSON_BYTES,
            max_blob_bytes=MAX_JOB_BLOB_BYTES,
            allowed=PARENT_MESSAGES,
        )
        self._frames: deque[Frame] = deque()

    def next_frame(self, what: str) -> Frame:
        """The next frame; ProtocolError naming `what` was awaited if the pipe closes first."""
        while not self._frames:
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                raise ProtocolError(f"the parent closed the pipe before sending {what}")
            self._frames.extend(self._reader.feed(chunk))
        return self._frames.popleft()


def read_job(stream: BinaryIO) -> Frame:
    """The one job frame from the parent (the worker exits if it is malformed)."""
    return ParentChannel(stream.fileno()).next_frame("a job")


class ParentIndicators:
    """A sweep trial's indicator source (app.engine.indicators.IndicatorSource): each request
    goes to the parent, which checks it again, computes each distinct setting once per sweep
    and answers with the values or a refusal; the parent is trusted, as for the job."""

    def __init__(self, channel: ParentChannel, send: Callable[[Chunk], object]) -> None:
        self._channel = channel
        self._send = send

    def __call__(
        self, name: str, rule: str | None, args: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        request = {"type": "indicator", "name": name, "timeframe": rule, "settings": dict(args)}
        self._send(encode(request))
        frame = self._channel.next_frame("indicator values")
        if frame.type == "indicator_refused":
            raise IndicatorError(str(frame.body.get("message", "the indicator was refused")))
        if frame.type != "indicator_values":
            raise ProtocolError(f"expected indicator values, not {frame.type!r}")
        columns: dict[str, FloatArray] = {}
        for column in frame.body["columns"]:
            values = frame.arrays[column]
            values.setflags(write=False)
            columns[str(column)] = values
        return columns


def keep_numba_cache_read_only() -> None:
    """Let pandas-ta's numba kernels compile in memory without saving them.

    numba saves what it compiles beside the package (`cache=True`); the locked-down worker may
    write nowhere, so on a fresh install the first indicator that compiled a kernel failed with
    PermissionError. Kernels already cached (by a run outside the sandbox) are still read.
    """
    caching.Cache.save_overload = _skip_saving


def _skip_saving(self: caching.Cache, sig: object, data: object) -> None:
    return None


WARM_UP_BARS: Final = 300


class WarmUpStrategy(Strategy):
    """Our own code, never a user's: what most strategies do, so the libraries are warm for them.

    Its indicators start no numba: `sma` is the engine's numpy version
    (app/engine/fast_indicators/simple_average.py), ema and rsi are pandas-ta's pure-pandas
    paths; the orders exercise the engine's fills and metrics. numba is started by
    `start_numba` where that pays (the fork server), else by the first kernel a run loads.
    """

    def initialize(self) -> None:
        self.fast = self.indicator("sma", length=5)
        self.slow = self.indicator("ema", length=20)
        self.rsi = self.indicator("rsi", length=14)

    def on_data(self, bar: Bar) -> None:
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(0.01)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(0.01, leverage=2.0)


def warm_up_market(bars: int = WARM_UP_BARS) -> MarketData:
    """A deterministic hourly sine-wave market, built in memory (no file is read)."""
    step = np.arange(bars, dtype=np.float64)
    close = 100.0 + 5.0 * np.sin(step / 12.0)
    open_ = np.r_[close[0], close[:-1]]
    return MarketData(
        time=1_704_067_200_000_000_000 + np.arange(bars, dtype=np.int64) * 3_600_000_000_000,
        open=open_,
        high=np.maximum(open_, close) + 0.5,
        low=np.minimum(open_, close) - 0.5,
        close=close,
        volume=np.full(bars, 10.0),
    )


NUMBA_COMPILER_MODULES: Final = (
    "numba.cpython.builtins",
    "numba.cpython.charseq",
    "numba.cpython.unicode",
    "numba.core.inline_closurecall",
    "numba.np.linalg",
    "numba.np.arrayobj",
    "numba.np.arraymath",
    "numba.np.npyimpl",
    "numba.typed.typedlist",
    "numba.typed.typeddict",
    "numba.experimental.jitclass",
    "numba.np.random.generator_methods",
    "numba.np.polynomial.polynomial_functions",
    "numba.cpython.mathimpl",
)
"""Most of what numba imports when it starts its compiler (numba/core/cpu.py,
`load_additional_registries`: ~0.45 s of the ~0.7 s), in steps of at most ~0.3 s; a module
numba no longer has is skipped (numba imports what it needs itself when it starts)."""


def start_numba() -> None:
    """Start numba's compiler and load pandas-ta's cached sma kernel (~0.7 s of CPU, once per
    process), so the first kernel a run loads costs only its own loading: for the fork server,
    whose children inherit it. Writes nothing (keep_numba_cache_read_only first)."""
    from pandas_ta.overlap.sma import nb_sma  # the kernel pandas-ta's own averages call

    try:
        nb_sma(np.ones(2 * WARM_UP_BARS), 5)
    except Exception:  # only speed is lost: the run starts numba itself if it needs it
        traceback.print_exc(limit=5, file=sys.stderr)


def import_numba_compiler(has_job_arrived: Callable[[], bool]) -> int:
    """Import NUMBA_COMPILER_MODULES one at a time until `has_job_arrived()` (a worker started
    for one job, waiting for it anyway): a run that needs numba then starts it sooner, and one
    that does not waits at most one module's import. Returns how many were imported."""
    imported = 0
    for name in NUMBA_COMPILER_MODULES:
        if has_job_arrived():
            break
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        imported += 1
    return imported


def warm_up() -> None:
    """Run WarmUpStrategy once so the job's first indicator call skips the libraries' set-up.

    Runs before the job is read and before the lock-down, with numba's cache saving already
    off (keep_numba_cache_read_only), so it writes nothing. Results of later runs are
    unaffected: the engine keeps no state between runs. A failure here only costs speed, so it
    goes to stderr and the worker carries on.
    """
    try:
        record = simulate(WarmUpStrategy, warm_up_market(), RunConfig(), on_progress=_ignore)
        encode(*codec.record_body(record))
    except Exception:
        traceback.print_exc(limit=5, file=sys.stderr)


GC_YOUNG_THRESHOLD: Final = 100_000


def collect_garbage_less_often() -> None:
    """Freeze what the imports and the warm-up left, and let the young generation grow to
    GC_YOUNG_THRESHOLD objects before a collection.

    A run allocates hundreds of thousands of small objects (orders, trades, bars) that hold no
    reference cycles; with the default threshold of 2,000 the collector kept re-scanning them,
    which cost about a tenth of a sandboxed SMA run. Cycles a strategy makes are still
    collected, later; the run's memory limit bounds what can pile up meanwhile.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _ignore(progress: Progress) -> None:
    return None


def is_job_waiting(fd: int) -> bool:
    """True when the parent has already written to `fd` (the job is there: warming up would
    only delay it)."""
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)


def lock_down(run_limits: limits.RunLimits) -> dict[str, str]:
    """Apply every OS layer in order; returns each layer's status line.

    Off Linux only the rlimits apply (the other layers are Linux system calls); the status
    lines say so, and the parent logs them.
    """
    keep_numba_cache_read_only()
    allocator = use_system_allocator()
    readable = limits.readable_paths()
    if sys.platform != "linux":
        unavailable = f"inactive: not available on {sys.platform}"
        return {
            "allocator": allocator,
            "rlimits": limits.apply_rlimits(run_limits),
            **dict.fromkeys(
                ("network", "privileges", "no_new_privs", "landlock", "seccomp"), unavailable
            ),
        }
    return {
        "allocator": allocator,
        "network": limits.enter_empty_network(),
        "rlimits": limits.apply_rlimits(run_limits),
        "privileges": limits.drop_privileges(readable),
        "no_new_privs": limits.forbid_new_privileges(),
        "landlock": limits.apply_landlock(readable),
        "seccomp": limits.apply_seccomp(),
    }


def user_line(error: BaseException, filename: str) -> int | None:
    """The last line of the user's file in the error's traceback (not the sandbox's frames)."""
    line: int | None = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


MAX_ERROR_CHARS: Final = 2_000


def _short(text: str) -> str:
    """Error text bounded in size (a strategy can raise with an enormous message)."""
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


def error_body(error: BaseException, filename: str) -> dict[str, Any]:
    """An `error` message describing why the run stopped.

    A MemoryError anywhere in the error's chain is the memory limit, whichever library raised
    it and however the engine wrapped it; a record cap names the record it counted.
    """
    if is_memory_error(error) or isinstance(error, MemoryExhausted):
        return {"type": "error", "kind": "memory", "message": "out of memory"}
    if isinstance(error, RecordLimitExceeded):
        return {"type": "error", "kind": "records", "record": error.record, "limit": error.limit}
    if isinstance(error, StrategyRejected):
        return {
            "type": "error",
            "kind": "rejected",
            "diagnostics": [d.to_dict() for d in error.diagnostics],
        }
    if isinstance(error, StrategyRuntimeError):
        cause = error.__cause__ or error
        return {
            "type": "error",
            "kind": "strategy",
            "exc_type": error.exc_type,
            "message": _short(error.message),
            "line": user_line(cause, filename),
            "bar_index": error.bar_index,
            "bar_time": error.bar_time,
            "phase": error.phase,
        }
    if isinstance(error, ConfigError):  # its field travels as data, beside its own sentence
        return {
            "type": "error",
            "kind": "engine",
            "exc_type": "ConfigError",
            "field": error.field,
            "message": _short(error.message),
        }
    if isinstance(error, EngineError):
        return {
            "type": "error",
            "kind": "engine",
            "exc_type": type(error).__name__,
            "message": _short(str(error)),
        }
    line = user_line(error, filename)
    if line is not None:  # raised by the strategy's module body while it was being loaded
        return {
            "type": "error",
            "kind": "strategy",
            "exc_type": type(error).__name__,
            "message": _short(str(error)),
            "line": line,
            "bar_index": None,
            "bar_time": None,
            "phase": "loading the strategy",
        }
    return {
        "type": "error",
        "kind": "internal",
        "exc_type": type(error).__name__,
        "message": _short(str(error)),
        "line": None,
    }


STREAM_BATCH: Final = 4_000


class ProgressStream:
    """The engine's on_progress callback: forwards each report as a message, and the run's
    trades and ended orders in batches of at least STREAM_BATCH records, so the parent decodes
    them while the run goes on instead of all at its end. `unsent` trims a finished run's
    record to what has not been sent yet, for the `result` message. With a `watch`, each
    report first ends the run if a MemoryError was raised since the last one."""

    def __init__(self, send: Callable[[Chunk], object], watch: MemoryWatch | None = None) -> None:
        self._send = send
        self._watch = watch
        self._trades: list[Trade] = []
        self._orders: list[OrderRecord] = []
        self._trades_sent = 0
        self._order_ids_sent: set[int] = set()

    def __call__(self, progress: Progress) -> None:
        if self._watch is not None:
            self._watch.check()
        self._trades.extend(progress.trades)
        self._orders.extend(progress.orders)
        trades: list[Trade] = []
        orders: list[OrderRecord] = []
        if len(self._trades) + len(self._orders) >= STREAM_BATCH:
            trades, self._trades = self._trades, []
            orders, self._orders = self._orders, []
            self._trades_sent += len(trades)
            self._order_ids_sent.update(order.id for order in orders)
        for part in encode_parts(*codec.progress_body(progress, trades, orders)):
            self._send(part)

    def unsent(self, record: RunRecord) -> RunRecord:
        return dataclasses.replace(
            record,
            trades=record.trades[self._trades_sent :],
            orders=tuple(o for o in record.orders if o.id not in self._order_ids_sent),
        )


class QuietProgress:
    """The engine's on_progress callback for a job that wants no progress reports (a sweep
    trial nobody watches): it only ends the run if a MemoryError was raised since the last
    report, as ProgressStream does; every record then travels in the `result` message."""

    def __init__(self, watch: MemoryWatch) -> None:
        self._watch = watch

    def __call__(self, progress: Progress) -> None:
        self._watch.check()

    def unsent(self, record: RunRecord) -> RunRecord:
        return record


def run_job(
    job: Frame,
    send: Callable[[Chunk], object],
    channel: ParentChannel | None = None,
    preloaded: Mapping[str, npt.NDArray[Any]] | None = None,
) -> None:
    """Compile and run the job's strategy; the result or the error goes to `send`. A job
    whose `indicators` is "parent" gets its indicators over `channel` (ParentIndicators); one
    whose `market` is "preloaded" runs on the `preloaded` arrays this worker was forked with
    (sandbox.forkserver: a sweep's bars, read-only) instead of arrays of its own."""
    body = job.body
    source: IndicatorSource | None = None
    if body.get("indicators") == "parent" and channel is not None:
        source = ParentIndicators(channel, send)
    filename = str(body.get("filename", "strategy.py"))
    run_limits = limits.RunLimits(**body["limits"])
    arrays = job.arrays
    if body.get("market") == "preloaded":
        if preloaded is None:
            raise ProtocolError("the job's market was to be preloaded, and this worker has none")
        arrays = {**preloaded, **job.arrays}
    market = codec.market_from_arrays(
        arrays,
        str(body["symbol"]),
        [str(name) for name in body.get("other_symbols", [])],
        int(body.get("bars_dropped", 0)),
    )
    config = codec.config_from_dict(body["config"])
    layers = lock_down(run_limits)
    watch = MemoryWatch()
    layers["memory_watch"] = watch.start()
    send(encode({"type": "ready", "layers": layers}))
    try:
        chart = _chart_recorder(body, market, config, source)
        compiled = compile_strategy(
            body["code"],
            filename,
            strategy_name=body.get("strategy"),
            is_validated=body.get("validate") is not False,
        )
        strategy_class = typing.cast(type[Strategy], compiled.strategy_class)
        stream: ProgressStream | QuietProgress = (
            ProgressStream(send, watch) if body.get("progress", True) else QuietProgress(watch)
        )
        resume = checkpoint_from_job(job)  # a run continuing from its last checkpoint
        checkpoints = CheckpointStream(send, resume) if body.get("checkpoints") else None
        record = simulate(
            strategy_class,
            market,
            config,
            on_progress=stream,
            indicator_source=chart or source,
            indicators_expected=count_indicator_calls(body["code"]),
            resume=resume,
            on_checkpoint=checkpoints,
        )
        watch.check()
        if body.get("records") == "summary":  # what the metrics need: trades and marks
            record = dataclasses.replace(record, orders=(), logs=())
        result_body, arrays = codec.record_body(stream.unsent(record))
        if chart is not None:  # the chart's points of what the run computed: no recomputing
            declared = record.indicators[: codec.MAX_INDICATOR_SETTINGS]
            names, points = chart.points_parts(declared, record.start, int(body["chart_points"]))
            result_body[POINTS_KEY] = names
            arrays.update(points)
        parts = encode_parts(result_body, arrays)
    except BaseException as error:
        send(encode(error_body(error, filename)))
        return
    for part in parts:
        send(part)


def _chart_recorder(
    body: Mapping[str, Any], market: MarketData, config: RunConfig, source: IndicatorSource | None
) -> ChartRecorder | None:
    """The indicator source that keeps the run's indicators for the chart, when the job asks
    for their points (`chart_points`, points per line); None otherwise."""
    wanted = body.get("chart_points", 0)
    if type(wanted) is not int or not 0 < wanted <= MAX_CHART_POINTS:
        return None
    return ChartRecorder(cut_after_end(market, config.end), source)


def serve(market: Mapping[str, npt.NDArray[Any]] | None = None) -> int:
    """Read the one job from stdin and run it; the protocol goes to the original stdout and
    stray output to /dev/null. `market`: the sweep's arrays a fork server gave this worker."""
    protocol_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    out = os.fdopen(protocol_fd, "wb", buffering=0)

    def send(data: Chunk) -> None:
        view = memoryview(data)
        while view:
            written = out.write(view)
            view = view[written or 0 :]

    channel = ParentChannel(sys.stdin.fileno())
    run_job(channel.next_frame("a job"), send, channel, market)
    out.close()
    return 0


def prepare(*, warm: bool, job_fd: int | None = None) -> None:
    """Everything before the job: numba's cache read-only, the system allocator, with `warm`
    the libraries' warm-up, and the collector's settings.

    The fork server (no `job_fd`) warms up and starts numba, once, for every child it forks
    (sandbox.forkserver). A worker started on its own for the job on `job_fd` warms up only
    if that job is not already waiting, and then only imports numba's compiler modules until
    it arrives (import_numba_compiler): the ~0.25 s left of numba's start is paid by a run
    that loads a kernel, never by one whose indicators are all numpy (an SMA crossover).
    """
    keep_numba_cache_read_only()
    load_indicator_libraries()  # pandas-ta and the fast kernels: no file opens after lock-down
    use_system_allocator()  # before the warm-up: no allocator reservation in the footprint
    if warm:
        warm_up()
        if job_fd is None:
            start_numba()
        else:
            import_numba_compiler(lambda: is_job_waiting(job_fd))
    collect_garbage_less_often()


def main() -> int:
    """Entry point of a worker started on its own: prepare, then serve its one job."""
    job_fd = sys.stdin.fileno()
    prepare(warm=not is_job_waiting(job_fd), job_fd=job_fd)
    return serve()


if __name__ == "__main__":
    sys.exit(main())
