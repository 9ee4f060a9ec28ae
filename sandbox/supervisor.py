"""The parent side of a sandboxed run: start the worker, feed it, watch limits, decode results."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import gc
import logging
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from app.engine import (
    ConfigError,
    EngineError,
    IndicatorError,
    MarketData,
    MarketDataError,
    OrderRecord,
    Progress,
    RunConfig,
    RunResult,
    StrategyDefinitionError,
    Trade,
    summarize,
)
from app.engine.checkpoint import Checkpoint, CheckpointCallback
from app.engine.errors import CheckpointError
from app.engine.loop import cut_after_end
from app.engine.record_tables import RecordTable
from app.engine.results import OrderTable, TradeTable
from sandbox import codec
from sandbox.checkpoint_wire import CheckpointCollector, resume_job_parts
from sandbox.diagnostics import Diagnostic, Severity, has_errors
from sandbox.errors import (
    LimitExceeded,
    ProtocolError,
    RunCancelled,
    SandboxError,
    StrategyFailed,
    StrategyRejected,
    WorkerFailed,
)
from sandbox.forkserver import ForkServer, PreloadedMarket, WorkerProcess
from sandbox.indicator_points import POINTS_KEY, ChartRequest, points_from_result
from sandbox.limits import (
    MIB,
    OperatorMaximums,
    RunLimits,
    memory_limit_reached,
    record_budget_exceeded,
    record_limit_exceeded,
)
from sandbox.memory_watch import tells_of_memory_exhaustion
from sandbox.protocol import WORKER_MESSAGES, Chunk, Frame, FrameReader, encode_parts
from sandbox.record_tally import RecordTally
from sandbox.shared_indicators import SharedIndicators, refusal
from sandbox.text import MAX_NAME_CHARS, clean_text
from sandbox.validate import validate_source
from sandbox.worker_process import PROJECT_ROOT as PROJECT_ROOT  # tests read these here
from sandbox.worker_process import (
    WORKER_COMMAND,
    StartedWorker,
    read_only_workdir,
    start_worker_process,
    worker_env,
)
from sandbox.worker_process import WORKER_ENV as WORKER_ENV

logger = logging.getLogger(__name__)

POLL_SECONDS: Final = 0.05
MAX_STDERR_BYTES: Final = 64 * 1024
MAX_ERROR_CHARS: Final = 2_000
"""Longest error message kept from the worker (its own cap is the same)."""
MAX_HINT_CHARS: Final = 500
MAX_DIAGNOSTICS: Final = 200
ENGINE_ERRORS: Final[dict[str, type[EngineError]]] = {
    cls.__name__: cls
    for cls in (
        EngineError,
        ConfigError,
        MarketDataError,
        StrategyDefinitionError,
        IndicatorError,
        CheckpointError,
    )
}
MAX_INDICATOR_REQUESTS: Final = 256
"""Indicator requests one sweep trial may send its parent (a run declaring more gets each
further one refused with a sentence); bounds what one trial can make the parent compute."""

ProgressCallback = Callable[[Progress], None]


@dataclasses.dataclass(slots=True)
class ResultCopy:
    """Asks run_sandboxed to keep the worker's `result` message once it has passed every check
    (its text already cleaned by the reader): `frame`, None until then. A `strategylab
    worker` forwards it (app.jobs.fold_test_codec) to the web node, which decodes it again
    with `result_from_copy`: the checks of a local run, against the web node's own data."""

    frame: Frame | None = None


def result_from_copy(
    frame: Frame,
    market: MarketData,
    config: RunConfig,
    limits: RunLimits,
    maximums: OperatorMaximums | None = None,
) -> RunResult:
    """The RunResult of a forwarded `result` message (ResultCopy.frame, re-read with an
    untrusted FrameReader), decoded exactly as run_sandboxed decodes its worker's: the same
    record checks, the equity curve and metrics derived from `market` and `config` (bounded by
    `limits` as the run was). ProtocolError when the message is not a usable result."""
    limits = limits.checked(maximums or OperatorMaximums())
    if frame.type != "result":
        raise ProtocolError("the forwarded message is not a run's result")
    return _outcome(frame, market, limits.bound(config), limits)


def run_sandboxed(
    code: str,
    market: MarketData,
    config: RunConfig,
    limits: RunLimits | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    strategy_name: str | None = None,
    filename: str = "strategy.py",
    maximums: OperatorMaximums | None = None,
    worker: WarmWorker | None = None,
    indicators: SharedIndicators | None = None,
    summary_only: bool = False,
    on_checkpoint: CheckpointCallback | None = None,
    resume: Checkpoint | None = None,
    chart: ChartRequest | None = None,
    capture: ResultCopy | None = None,
) -> RunResult:
    """Run strategy source on `market` in an isolated worker; the same RunResult as run_backtest.

    `worker` is an optional pre-started WarmWorker (start_worker()); without one a worker is
    started now. Either way the worker serves this run only and is killed at its end.
    `indicators` (a sweep's trials) makes the worker ask this process for its indicators,
    computed once per distinct setting across the sweep (sandbox.shared_indicators); it must
    hold this run's `market` cut at `config.end`. The values, hence the results, are the same.
    `summary_only` (a sweep's trials) has the worker send what the metrics are computed from,
    trades and account marks, and no orders or log lines (`orders` and `logs` come back empty;
    every metric is the same), and no progress reports unless `on_progress` is given.
    `on_checkpoint` gets a checked Checkpoint every `config.checkpoint_every` bars (the worker
    sends them: sandbox.checkpoint_wire); `resume` continues the run from one. Either way the
    result is the one the run has uninterrupted. With `chart` the worker also sends the values
    of the indicators it computed at the price chart's points, checked here
    (sandbox.indicator_points) and left in `chart.points`: nothing is computed twice.
    With `capture` the checked `result` message is kept in `capture.frame` (ResultCopy).

    Raises StrategyRejected (diagnostics; no worker started), StrategyFailed (the strategy
    raised: type, message, line in `filename`, bar), LimitExceeded (which limit, its value),
    RunCancelled (`cancel` was set; the worker is killed within a second), the engine's
    ConfigError/StrategyDefinitionError/IndicatorError/MarketDataError, or WorkerFailed.
    """
    diagnostics = validate_source(code, filename, strategy_name=strategy_name)
    if has_errors(diagnostics):
        if worker is not None:
            worker.close()
        raise StrategyRejected(diagnostics)
    return _run_in_worker(
        code,
        market,
        config,
        limits,
        on_progress=on_progress,
        cancel=cancel,
        strategy_name=strategy_name,
        filename=filename,
        maximums=maximums,
        worker=worker,
        indicators=indicators,
        summary_only=summary_only,
        on_checkpoint=on_checkpoint,
        resume=resume,
        chart=chart,
        capture=capture,
    )


def run_unvalidated_for_tests(
    code: str,
    market: MarketData,
    config: RunConfig,
    limits: RunLimits,
    *,
    worker: WarmWorker | None = None,
) -> RunResult:
    """Like run_sandboxed but with the AST validation skipped, in the parent and the worker.

    Only the hostile test suite calls this: it shows that a payload validation would refuse is
    still stopped by RestrictedPython, the guards and the OS layers. No product path uses it.
    """
    return _run_in_worker(code, market, config, limits, is_validated=False, worker=worker)


def _run_in_worker(
    code: str,
    market: MarketData,
    config: RunConfig,
    limits: RunLimits | None,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    strategy_name: str | None = None,
    filename: str = "strategy.py",
    maximums: OperatorMaximums | None = None,
    is_validated: bool = True,
    worker: WarmWorker | None = None,
    indicators: SharedIndicators | None = None,
    summary_only: bool = False,
    on_checkpoint: CheckpointCallback | None = None,
    resume: Checkpoint | None = None,
    chart: ChartRequest | None = None,
    capture: ResultCopy | None = None,
) -> RunResult:
    maximums = maximums or OperatorMaximums()
    limits = (limits or RunLimits()).checked(maximums)
    config = limits.bound(config)
    resume_body, resume_arrays = resume_job_parts(resume) if resume is not None else (None, {})
    # A worker forked with this very market loaded in its fork server has the arrays already.
    is_preloaded = worker is not None and worker.has_market(market)
    job = encode_parts(
        {
            "type": "job",
            "market": "preloaded" if is_preloaded else "own",
            "code": code,
            "filename": filename,
            "strategy": strategy_name,
            "validate": is_validated,
            **codec.market_symbols(market),  # the symbol(s), for the arrays
            "config": codec.config_to_dict(config),
            "limits": dataclasses.asdict(limits),
            "indicators": "parent" if indicators is not None else "own",
            "records": "summary" if summary_only else "all",
            # a summary nobody watches needs no reports: its records come with the result
            "progress": on_progress is not None or not summary_only,
            "checkpoints": on_checkpoint is not None and config.checkpoint_every > 0,
            "resume": resume_body,
            "chart_points": chart.max_points if chart is not None else 0,
        },
        {**({} if is_preloaded else codec.market_arrays(market)), **resume_arrays},
    )
    session = _WorkerSession(limits, maximums, cancel, on_progress, indicators=indicators)
    if on_checkpoint is not None and config.checkpoint_every > 0:
        bars = len(cut_after_end(market, config.end))
        session.checkpoints = CheckpointCollector(limits, bars, on_checkpoint, resume)
        session.max_received_bytes *= 2  # each record travels twice: checkpoint and result
    frame = session.run(job, worker)
    result = _outcome(frame, market, config, limits, session, chart)
    if capture is not None:
        capture.frame = frame
    return result


def _outcome(
    frame: Frame,
    market: MarketData,
    config: RunConfig,
    limits: RunLimits,
    session: _WorkerSession | None = None,
    chart: ChartRequest | None = None,
) -> RunResult:
    if frame.type == "result":
        with _collector_paused(), _untrusted("result"):
            record = codec.record_from_frame(
                frame.body,
                frame.arrays,
                market,
                trade_batches=session.trades if session else (),
                order_batches=session.orders if session else (),
            )
            if session is not None:  # in `record` now: not held twice while the curve is built
                session.trades, session.orders = [], []
            result = summarize(record, market, config)
            if chart is not None and POINTS_KEY in frame.body:  # `start` checked above
                chart.points = points_from_result(
                    frame.body,
                    frame.arrays,
                    result.indicators,
                    cut_after_end(market, config.end),
                    int(frame.body["start"]),
                    chart.max_points,
                )
            return result
    with _untrusted("error report"):
        error = _error_from_body(frame.body, limits, config)
    raise error


@contextlib.contextmanager
def _untrusted(what: str) -> Iterator[None]:
    """Decode worker data: the codec refuses what it can name with a ProtocolError; anything
    else hostile values make the parent's own code raise (deriving metrics from nonsense
    records, say) is reported as a ProtocolError too, so a run never dies of an unexpected
    exception because of what its worker sent."""
    try:
        yield
    except SandboxError:  # ProtocolError, a limit, ...: already named
        raise
    except Exception as error:
        logger.debug("worker %s refused", what, exc_info=True)
        reason = clean_text(f"{type(error).__name__}: {error}", MAX_HINT_CHARS)
        raise ProtocolError(f"the worker's {what} could not be used ({reason})") from None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a result's tens of thousands of records are
    built: they hold no cycles, and in a server with a large heap the collections their
    allocations trigger made decoding half again as slow. It is re-enabled (if it was on)
    on the way out, whatever happens."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _error_from_body(body: dict[str, Any], limits: RunLimits, config: RunConfig) -> Exception:
    kind = body.get("kind")
    text = _text(body.get("message"), MAX_ERROR_CHARS)
    if kind == "rejected":
        return StrategyRejected(_diagnostics(body.get("diagnostics")))
    if kind == "memory" or (kind == "strategy" and body.get("exc_type") == "MemoryError"):
        return memory_limit_reached(limits)
    if kind == "records" and body.get("record") in ("orders", "trades"):
        return record_limit_exceeded(config, str(body["record"]))
    if kind == "strategy":
        return StrategyFailed(
            exc_type=_text(body.get("exc_type"), MAX_NAME_CHARS),
            message=text,
            line=_optional_int(body.get("line")),
            bar_index=_optional_int(body.get("bar_index")),
            bar_time=_text(body.get("bar_time"), MAX_NAME_CHARS) or None,
            phase=_text(body.get("phase"), MAX_NAME_CHARS),
        )
    if kind == "engine":
        cls = ENGINE_ERRORS.get(_text(body.get("exc_type"), MAX_NAME_CHARS), EngineError)
        if cls is ConfigError:
            return config_error(body.get("field"), text)
        return cls(text)
    exc_type = _text(body.get("exc_type"), MAX_NAME_CHARS)
    return WorkerFailed(f"the worker failed: {exc_type}: {text}")


def config_error(field: object, message: str) -> ConfigError:
    """A worker's ConfigError rebuilt with its field, when the field is one RunConfig has (the
    parent trusts no other name); "config" otherwise."""
    names = {spec.name for spec in dataclasses.fields(RunConfig)}
    return ConfigError(field if isinstance(field, str) and field in names else "config", message)


def _text(value: object, max_chars: int) -> str:
    """A text field of an error message: cleaned (see sandbox.text) and cut to `max_chars`."""
    return clean_text(value, max_chars) if isinstance(value, str) else ""


def _optional_int(value: object) -> int | None:
    return value if type(value) is int else None


def _diagnostics(value: object) -> list[Diagnostic]:
    if not isinstance(value, list):
        return []
    found = []
    for item in value[:MAX_DIAGNOSTICS]:
        if isinstance(item, dict):
            found.append(
                Diagnostic(
                    line=_optional_int(item.get("line")) or 1,
                    col=_optional_int(item.get("col")) or 1,
                    end_line=_optional_int(item.get("end_line")) or 1,
                    end_col=_optional_int(item.get("end_col")) or 1,
                    severity=Severity.ERROR,
                    code=_text(item.get("code"), MAX_NAME_CHARS),
                    message=_text(item.get("message"), MAX_HINT_CHARS),
                    hint=_text(item.get("hint"), MAX_HINT_CHARS),
                    suggestion=_text(item.get("suggestion"), MAX_NAME_CHARS),
                )
            )
    return found


class WarmWorker:
    """A started worker that has imported numpy, pandas and the engine and waits for its job.

    Start one ahead of time (`start_worker()` while the data loads, or `sandbox.pool.WorkerPool`
    in a job runner) and pass it to run_sandboxed to save the interpreter's start-up and the
    libraries' warm-up. It serves exactly one run;
    it has no limits applied until its job arrives, and exits if its parent goes away.
    """

    def __init__(
        self,
        command: Sequence[str] = WORKER_COMMAND,
        *,
        forkserver: ForkServer | None = None,
        started: StartedWorker | None = None,
        market: PreloadedMarket | None = None,
    ) -> None:
        self.stderr = bytearray()
        self.stderr_closed = threading.Event()  # set once the worker's stderr is read to its end
        self.is_used = False
        self.process: WorkerProcess
        self.market: PreloadedMarket | None = None  # the market forked into it (a sweep's)
        if market is not None:
            forkserver = market.server
        if started is not None:  # started earlier on its own (sandbox.worker_process)
            self.workdir = started.workdir
            self.process = started.process
        elif forkserver is not None:
            self.workdir = read_only_workdir()
            try:
                self.process = forkserver.spawn(self.workdir, market)
                self.market = market
            except BaseException:
                shutil.rmtree(self.workdir, ignore_errors=True)
                raise
        else:
            started = start_worker_process(tuple(command))
            self.workdir = started.workdir
            self.process = started.process
        for stream in (self.process.stdin, self.process.stdout):
            _widen_pipe(stream)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        logger.debug("sandbox worker started pid=%s", self.process.pid)

    def has_market(self, market: MarketData) -> bool:
        """True when this unused, live worker was forked with `market` itself preloaded
        (ForkServer.load_market): its job then carries no market arrays."""
        return (
            self.market is not None
            and self.market.market is market
            and not self.is_used
            and self.process.poll() is None
        )

    def _drain_stderr(self) -> None:
        stream = self.process.stderr
        try:
            if stream is None:
                return
            for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
                self.stderr += chunk
                if len(self.stderr) > MAX_STDERR_BYTES:
                    del self.stderr[: len(self.stderr) - MAX_STDERR_BYTES]
        except (OSError, ValueError):  # the stream was closed under us: the worker is gone
            pass
        finally:
            self.stderr_closed.set()

    def close(self) -> None:
        """Kill the process (if still running) and remove its working directory."""
        _kill(self.process)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> WarmWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def start_worker(
    forkserver: ForkServer | None = None, *, started: StartedWorker | None = None
) -> WarmWorker:
    """A worker started now, to be handed to run_sandboxed later (see WarmWorker): forked by
    `forkserver` when given (milliseconds), otherwise a new interpreter (~1.5 s of imports).
    With `started`, the worker process started earlier by sandbox.worker_process (a command
    line starts its run's worker before its own imports) is adopted instead."""
    return WarmWorker(forkserver=forkserver, started=started)


def start_fork_server(*, nice: int = 0) -> ForkServer:
    """A fork server for this process's runs (see sandbox.forkserver); close it when done."""
    return ForkServer(env=worker_env(), nice=nice)


class _WorkerSession:
    """One run in one worker: send the job, pump messages, enforce wall time and cancel."""

    def __init__(
        self,
        limits: RunLimits,
        maximums: OperatorMaximums,
        cancel: threading.Event | None,
        on_progress: ProgressCallback | None,
        command: Sequence[str] = WORKER_COMMAND,
        *,
        indicators: SharedIndicators | None = None,
    ) -> None:
        self.command = list(command)
        self.indicators = indicators
        self.indicator_requests = 0
        self.outbox: _Outbox | None = None
        self.limits = limits
        self.cancel = cancel
        self.on_progress = on_progress
        self.reader = FrameReader(
            max_json_bytes=maximums.max_message_mb * MIB,
            max_blob_bytes=maximums.max_message_mb * MIB,
            allowed=WORKER_MESSAGES,
            is_untrusted=True,
        )
        self.stderr = bytearray()
        self.stderr_closed = threading.Event()
        self.stderr_closed.set()
        self.layers: dict[str, str] = {}
        # what progress messages brought, as tables (columns); the result has the rest
        self.trades: list[TradeTable] = []
        self.orders: list[OrderTable] = []
        self.maximums = maximums
        self.received_bytes = 0  # everything the worker sent, records and all, within a budget
        self.max_received_bytes = limits.record_budget_bytes(maximums)
        self.tally = RecordTally(limits)
        self.checkpoints: CheckpointCollector | None = None

    def run(self, job: Sequence[Chunk], worker: WarmWorker | None = None) -> Frame:
        """Send `job` to `worker` (or a new one) and return the final frame; kills the worker."""
        if worker is None or worker.is_used or worker.process.poll() is not None:
            if worker is not None:
                worker.close()
            worker = WarmWorker(self.command)
        worker.is_used = True
        self.stderr = worker.stderr
        self.stderr_closed = worker.stderr_closed
        try:
            return self._supervise(worker.process, job)
        finally:
            worker.close()

    def _supervise(self, process: WorkerProcess, job: Sequence[Chunk]) -> Frame:
        assert process.stdin and process.stdout and process.stderr
        if self.indicators is None:  # the job is all the worker reads: a thread writes it
            threading.Thread(target=_feed, args=(process.stdin, job), daemon=True).start()
        else:  # answers follow the job: written from this loop, never blocking it
            self.outbox = _Outbox(process.stdin)
            self.outbox.put(job)
        deadline = time.monotonic() + self.limits.wall_seconds
        stdout = process.stdout.fileno()
        while True:
            self._check_stop(process, deadline)
            outbox = self.outbox
            writing = [outbox.fd] if outbox is not None and outbox.is_pending else []
            ready, writable, _ = select.select([stdout], writing, [], POLL_SECONDS)
            if writable and outbox is not None:
                outbox.flush()
            if not ready:
                continue
            chunk = os.read(stdout, 1 << 20)
            if not chunk:
                raise self._death_reason(process)
            self.received_bytes += len(chunk)
            if self.received_bytes > self.max_received_bytes:
                raise record_budget_exceeded(self.limits, self.maximums)
            final = self._handle(self.reader.feed(chunk))
            if final is not None:
                return final

    def _check_stop(self, process: WorkerProcess, deadline: float) -> None:
        if self.cancel is not None and self.cancel.is_set():
            _kill(process)
            raise RunCancelled("the run was cancelled")
        if time.monotonic() > deadline:
            _kill(process)
            raise LimitExceeded("wall-clock time", self.limits.wall_seconds, "s")

    def _handle(self, frames: list[Frame]) -> Frame | None:
        for frame in frames:
            if frame.type == "checkpoint":  # records made so far, counted by the collector
                self._receive_checkpoint(frame)
                continue
            self.tally.add(frame.arrays)  # records counted against the caps before decoding
            if frame.type == "ready":
                layers = frame.body.get("layers")
                if isinstance(layers, dict):
                    self.layers = {
                        clean_text(str(k), 40): _text(v, MAX_HINT_CHARS) for k, v in layers.items()
                    }
                    logger.debug("sandbox worker layers %s", self.layers)
            elif frame.type == "indicator":
                self._answer_indicator(frame)
            elif frame.type == "progress":
                with _collector_paused(), _untrusted("progress report"):
                    progress = codec.progress_from_frame(frame.body, frame.arrays)
                self.trades.append(RecordTable.from_records(Trade, progress.trades))
                self.orders.append(RecordTable.from_records(OrderRecord, progress.orders))
                if self.on_progress is not None:
                    self.on_progress(progress)
            else:
                return frame
        return None

    def _receive_checkpoint(self, frame: Frame) -> None:
        """A checkpoint from the worker, checked and handed to the run's `on_checkpoint`."""
        if self.checkpoints is None:
            raise ProtocolError("the worker sent a checkpoint this run did not ask for")
        with _collector_paused(), _untrusted("checkpoint"):
            self.checkpoints.receive(frame)

    def _answer_indicator(self, frame: Frame) -> None:
        """Answer a worker's indicator request (checked by SharedIndicators like a run checks
        its own); a worker that was not offered them, or sends arrays, breaks the protocol."""
        if self.indicators is None or self.outbox is None:
            raise ProtocolError("the worker asked for indicator values this run does not serve")
        if frame.arrays:
            raise ProtocolError("an indicator request carries no arrays")
        self.indicator_requests += 1
        if self.indicator_requests > MAX_INDICATOR_REQUESTS:
            reply: tuple[dict[str, Any], dict[str, Any]] = (
                refusal(f"a sweep trial may declare at most {MAX_INDICATOR_REQUESTS} indicators"),
                {},
            )
        else:
            reply = self.indicators.answer(frame.body)
        self.outbox.put(encode_parts(*reply))
        self.outbox.flush()

    def _death_reason(self, process: WorkerProcess) -> Exception:
        code: int | None
        try:
            code = process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            _kill(process)
            code = process.returncode
        if code in (-signal.SIGXCPU, -signal.SIGKILL) and self.layers:
            return LimitExceeded("CPU time", self.limits.cpu_seconds, "s")
        self.stderr_closed.wait(timeout=2)  # its last words may still be in the pipe
        tail = bytes(self.stderr[-2000:]).decode("utf-8", "replace")
        if tells_of_memory_exhaustion(tail):
            return memory_limit_reached(self.limits)
        logger.warning("sandbox worker died code=%s stderr=%s", code, clean_text(tail[-500:]))
        if self.reader.pending:
            return WorkerFailed(
                f"the sandbox worker stopped in the middle of a message (exit code {code})"
            )
        return WorkerFailed(f"the sandbox worker stopped unexpectedly (exit code {code})")


PIPE_BYTES: Final = 1 << 20


def _widen_pipe(stream: Any) -> None:
    """Give the pipe a 1 MiB buffer (Linux; the default 64 KiB makes a large job or result
    cross in thousands of small writes). Where that is refused the default stays."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if stream is not None and set_size is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(stream.fileno(), set_size, PIPE_BYTES)


class _Outbox:
    """Bytes for the worker's stdin, written without blocking as the pipe takes them (a
    worker that stops reading cannot stall the loop that enforces its limits)."""

    def __init__(self, stream: Any) -> None:
        self.fd: int = stream.fileno()
        os.set_blocking(self.fd, False)
        self._chunks: collections.deque[memoryview] = collections.deque()

    @property
    def is_pending(self) -> bool:
        return bool(self._chunks)

    def put(self, chunks: Sequence[Chunk]) -> None:
        self._chunks.extend(memoryview(chunk).cast("B") for chunk in chunks if len(chunk))

    def flush(self) -> None:
        """Write what the pipe takes now; a dead worker's bytes are dropped (the reading side
        reports why it died)."""
        while self._chunks:
            chunk = self._chunks[0]
            try:
                written = os.write(self.fd, chunk)
            except BlockingIOError:
                return
            except OSError:
                self._chunks.clear()
                return
            if written < len(chunk):
                self._chunks[0] = chunk[written:]
            else:
                self._chunks.popleft()


def _feed(stream: Any, job: Sequence[Chunk]) -> None:
    try:
        for chunk in job:
            stream.write(chunk)
        stream.close()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the worker died or was killed; the supervisor reports why


def _kill(process: WorkerProcess) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        logger.error("sandbox worker pid=%s did not die after SIGKILL", process.pid)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


__all__ = [
    "WarmWorker",
    "run_sandboxed",
    "run_unvalidated_for_tests",
    "start_fork_server",
    "start_worker",
    "worker_env",
]
