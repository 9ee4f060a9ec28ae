"""The fork server: one process that imported and warmed up everything a run needs (numpy,
pandas, pandas-ta with its numba kernels, RestrictedPython, the engine) forks a fresh child per
run, so a run starts in milliseconds instead of paying ~1 s of imports.

What each child promises is what a worker started from scratch promises: it never ran code
the server did not run (the server itself never sees strategy code), it starts with
only the three pipes of its own run open (every other descriptor, the control socket included,
is closed before anything else happens), in its own process group and working directory, and then
applies every confinement layer itself (`sandbox.worker.serve`). A child's changes to modules,
classes or memory stay in that child: the server's copy is never written by a child.

A sweep's market (its bars: plain arrays, no code) can be loaded into the server once
(`ForkServer.load_market`), so its trials' children inherit it copy-on-write instead of each
receiving ~25 MB through its pipe: the server decodes it with the protocol's reader (only
int64/float64 arrays) over an immutable buffer, so no child can make the arrays writable, and a
child keeps only its own sweep's market (the others are dropped before it becomes a worker).

Protocol (a SOCK_SEQPACKET socket pair, one JSON object per packet, descriptors passed with
SCM_RIGHTS): the client asks `{"op": "fork", "id", "workdir"}` with the child's stdin, stdout
and stderr ends; the server answers `{"id", "pid"}` with a pidfd of the child (or `{"id",
"error"}`), and `{"exited": pid, "returncode"}` when it has reaped a child (returncode as
subprocess reports it: negative for a signal). `{"op": "load", "id", "key"}` comes with
the read end of a pipe carrying one `market` frame (sandbox.protocol) and is answered
`{"id", "loaded": key}` (or `{"id", "error"}`); a fork request naming `"market": key` gives
the child that market; `{"op": "unload", "id", "key"}` forgets it. The server exits when the
socket closes.
"""

from __future__ import annotations

import array
import contextlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    import numpy.typing as npt

    from app.engine import MarketData

from sandbox.errors import ProtocolError

logger = logging.getLogger(__name__)

MAX_PACKET: Final = 64 * 1024
READY_TIMEOUT_S: Final = 120.0
SPAWN_TIMEOUT_S: Final = 30.0
SETTLE_S: Final = 5.0
"""How long a poll waits for a dead server's last reports (its socket ends at once)."""
MAX_STDERR_BYTES: Final = 64 * 1024
CHILD_FAILED_EXIT: Final = 70  # EX_SOFTWARE: the child could not become a worker
MAX_MARKETS: Final = 64
"""Markets one server holds at once (a sweep's runner loads one and unloads it at its end)."""
MAX_MARKET_KEY_CHARS: Final = 64

Markets = dict[str, Mapping[str, "npt.NDArray[Any]"]]


class WorkerProcess(Protocol):
    """What the supervisor needs of a worker process: subprocess.Popen's shape."""

    pid: int
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


class ForkServerError(RuntimeError):
    """The fork server could not be started, or could not fork a worker."""


# ---------------------------------------------------------------- wire helpers (both sides)


def _send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sock.sendmsg([data], rights)
    else:
        sock.send(data)


def _receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One packet and the descriptors that came with it; (None, []) when the peer is gone."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(MAX_PACKET, socket.CMSG_LEN(8 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    try:
        message = json.loads(data)
    except ValueError:
        message = None
    return (message if isinstance(message, dict) else None), list(fds)


# ------------------------------------------------------------------------------ server side


def serve(control: socket.socket) -> int:
    """Warm up once, then fork a child for each request until the client goes away."""
    from sandbox import worker  # the heavy imports: numpy, pandas, pandas-ta, the engine

    worker.prepare(warm=True)
    _send(control, {"ready": True})
    children: dict[int, int] = {}  # pidfd -> pid
    markets: Markets = {}
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is control:
                message, fds = _receive(control)
                if message is None:
                    return 0
                if message.get("op") in ("load", "unload"):
                    _keep_market(control, message, fds, markets)
                else:
                    _answer(control, message, fds, children, selector, markets)
            else:
                _reap(control, int(key.fd), children, selector)


def _keep_market(
    control: socket.socket, message: dict[str, Any], fds: list[int], markets: Markets
) -> None:
    """Load (from the pipe that came with the request) or unload one market."""
    request_id, key = message.get("id"), message.get("key")
    is_load = message.get("op") == "load"
    try:
        if not isinstance(key, str) or not 0 < len(key) <= MAX_MARKET_KEY_CHARS:
            raise ValueError("malformed market key")
        if len(fds) != (1 if is_load else 0):
            raise ValueError("malformed market request")
        if not is_load:
            markets.pop(key, None)
            _send(control, {"id": request_id, "unloaded": key})
            return
        if key not in markets and len(markets) >= MAX_MARKETS:
            raise ValueError(f"the fork server holds {MAX_MARKETS} markets already")
        markets[key] = read_market(fds.pop())
    except (ValueError, OSError, ProtocolError) as error:
        _send(control, {"id": request_id, "error": str(error)})
        return
    finally:
        for fd in fds:
            os.close(fd)
    _send(control, {"id": request_id, "loaded": key})


def read_market(fd: int) -> Mapping[str, npt.NDArray[Any]]:
    """The arrays of the one `market` frame on pipe `fd` (closed here), over an immutable copy
    of the bytes: read-only, and no one can make them writable again. ValueError or
    ProtocolError when the bytes are not one whole market frame."""
    from sandbox.protocol import HEADER, decode
    from sandbox.worker import MAX_JOB_BLOB_BYTES, MAX_JOB_JSON_BYTES

    received = bytearray()
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(1 << 20):
            received += chunk
            if len(received) > HEADER.size + MAX_JOB_JSON_BYTES + MAX_JOB_BLOB_BYTES:
                raise ValueError("the market is larger than a job may be")
    if len(received) < HEADER.size:
        raise ValueError("the market frame is cut short")
    json_len, blob_len = HEADER.unpack_from(received)
    if json_len > MAX_JOB_JSON_BYTES or len(received) != HEADER.size + json_len + blob_len:
        raise ValueError("the market frame is malformed")
    data = bytes(received)
    del received
    payload = data[HEADER.size : HEADER.size + json_len]
    frame = decode(payload, data, frozenset({"market"}), offset=HEADER.size + json_len)
    return frame.arrays


def _answer(
    control: socket.socket,
    message: dict[str, Any],
    fds: list[int],
    children: dict[int, int],
    selector: selectors.BaseSelector,
    markets: Markets,
) -> None:
    request_id = message.get("id")
    workdir = message.get("workdir")
    market_key = message.get("market")
    if message.get("op") != "fork" or len(fds) != 3 or not isinstance(workdir, str):
        for fd in fds:
            os.close(fd)
        _send(control, {"id": request_id, "error": "malformed fork request"})
        return
    if market_key is not None and market_key not in markets:
        for fd in fds:
            os.close(fd)
        _send(control, {"id": request_id, "error": "the fork request names no loaded market"})
        return
    try:
        pid = os.fork()
    except OSError as error:
        for fd in fds:
            os.close(fd)
        _send(control, {"id": request_id, "error": f"fork failed: {error.strerror}"})
        return
    if pid == 0:
        market = markets.get(market_key) if isinstance(market_key, str) else None
        markets.clear()  # other sweeps' bars are not this child's
        _become_worker(workdir, fds, market)  # never returns
    with contextlib.suppress(OSError):  # the child does the same: whichever runs first wins
        os.setpgid(pid, pid)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    children[pidfd] = pid
    selector.register(pidfd, selectors.EVENT_READ)
    _send(control, {"id": request_id, "pid": pid}, [pidfd])


def _reap(
    control: socket.socket, pidfd: int, children: dict[int, int], selector: selectors.BaseSelector
) -> None:
    pid = children.pop(pidfd)
    selector.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    _send(control, {"exited": pid, "returncode": os.waitstatus_to_exitcode(status)})


def _become_worker(
    workdir: str, fds: list[int], market: Mapping[str, npt.NDArray[Any]] | None = None
) -> None:
    """In the forked child: keep only this run's pipes, then serve the run as a worker (with
    its sweep's `market` arrays, when the request named one)."""
    code = CHILD_FAILED_EXIT
    try:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(number, signal.SIG_DFL)
        # Its own process group (set by the server too, so it exists before the reply: a
        # supervisor's killpg can't miss it). The server's session has no terminal.
        os.setpgid(0, 0)
        os.chdir(workdir)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        _close_all_but_standard_streams()
        from sandbox import worker

        code = worker.serve(market)
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc(limit=5)
            sys.stderr.flush()
    finally:
        os._exit(code)


def _close_all_but_standard_streams() -> None:
    """Close every descriptor above 2: the control socket, pidfds of other children, and
    whatever the server's libraries held open. A fresh worker starts the same way."""
    for entry in Path("/proc/self/fd").iterdir():
        fd = int(entry.name)
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def main() -> int:
    """`python -s -m sandbox.forkserver FD [NICE]`: serve the client on socket FD."""
    control = socket.socket(fileno=int(sys.argv[1]))
    nice = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if nice > os.getpriority(os.PRIO_PROCESS, 0):  # absolute: a niced starter thread already counts
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    return serve(control)


# ------------------------------------------------------------------------------ client side


class ForkedProcess:
    """A worker forked by the fork server, shaped like subprocess.Popen for the supervisor.

    It is not our child, so its exit status comes from the server; its pidfd tells when it
    has exited and lets `kill` signal exactly this process (no pid-reuse race)."""

    def __init__(
        self,
        pid: int,
        pidfd: int,
        stdin: int,
        stdout: int,
        stderr: int,
        *,
        settle: Callable[[], None] | None = None,
    ) -> None:
        self.pid = pid
        self._settle = settle
        self._pidfd = pidfd
        self.stdin: IO[bytes] | None = os.fdopen(stdin, "wb")
        self.stdout: IO[bytes] | None = os.fdopen(stdout, "rb", buffering=0)
        self.stderr: IO[bytes] | None = os.fdopen(stderr, "rb", buffering=0)
        self._returncode: int | None = None
        self._exited = threading.Event()

    @property
    def returncode(self) -> int | None:
        return self._returncode

    def _set_returncode(self, code: int) -> None:
        self._returncode = code
        self._exited.set()
        with contextlib.suppress(OSError):
            os.close(self._pidfd)

    def poll(self) -> int | None:
        if self._returncode is None and self._settle is not None:
            self._settle()  # a server that just died may not have been heard from yet
        return self._returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"forked worker {self.pid}", timeout or 0.0)
        assert self._returncode is not None
        return self._returncode

    def kill(self) -> None:
        if self._returncode is None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


FORK_SERVER_COMMAND: Final = (sys.executable, "-s", "-m", "sandbox.forkserver")


@dataclass(frozen=True, slots=True, eq=False)
class PreloadedMarket:
    """A market loaded into `server` under `key` (ForkServer.load_market): a worker forked
    with it holds `market`'s arrays, so its job carries none (checked by identity: a job for
    another market still carries its own)."""

    server: ForkServer
    key: str
    market: MarketData


def _write_all(fd: int, chunks: list[Any]) -> None:
    """Write `chunks` to pipe `fd` and close it (a server that stopped reading ends it)."""
    try:
        with os.fdopen(fd, "wb", buffering=0) as pipe:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:
                    written = pipe.write(view) or 0
                    view = view[written:]
    except OSError:
        pass


class ForkServer:
    """Starts and talks to one fork server process; `spawn()` is safe from several threads.

    `env` is the workers' environment (sandbox.worker_process.WORKER_ENV): the server is started
    with it, so every child inherits it, hash seed included. `nice` is applied to the server
    and so to every worker it forks. `close()` (or the end of this process) stops the server;
    once it is gone, the children it forked that are still running are killed (their exit
    status could no longer be known), so close it only when no run is left.
    """

    def __init__(self, *, env: dict[str, str], nice: int = 0, cwd: Path | None = None) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket = ours
        self._lock = threading.Lock()
        self._replies: dict[int, tuple[dict[str, Any], list[int]]] = {}
        self._arrived = threading.Condition(self._lock)
        self._processes: dict[int, ForkedProcess] = {}
        self._early_exits: dict[int, int] = {}
        self._next_id = 0
        self._next_market = 0
        self._is_ready = False
        self._is_closed = False
        self.process = subprocess.Popen(
            [*FORK_SERVER_COMMAND, str(theirs.fileno()), str(nice)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=cwd or Path("/"),
            env=env,
            start_new_session=True,
        )
        theirs.close()
        self._stderr = bytearray()
        self._reader = threading.Thread(target=self._read, name="sandbox-fork-server", daemon=True)
        self._reader.start()
        self._drainer = threading.Thread(
            target=self._drain_stderr, name="fork-server-stderr", daemon=True
        )
        self._drainer.start()

    def _drain_stderr(self) -> None:
        stream = self.process.stderr
        if stream is None:
            return
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            self._stderr += chunk
            del self._stderr[: max(0, len(self._stderr) - MAX_STDERR_BYTES)]

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._is_ready or self._is_closed, timeout):
                raise ForkServerError("the fork server did not finish warming up in time")
            if not self._is_ready:
                raise ForkServerError(f"the fork server stopped: {self._stderr_tail()}")

    def spawn(self, workdir: str, market: PreloadedMarket | None = None) -> ForkedProcess:
        """A new worker forked in `workdir`, its pipes connected to the returned process; with
        `market` (loaded here by load_market) the worker has that market's arrays."""
        self.wait_ready()
        if market is not None and market.server is not self:
            raise ForkServerError("the market was loaded into another fork server")
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        ours = [stdin_w, stdout_r, stderr_r]
        request: dict[str, Any] = {"op": "fork", "workdir": workdir}
        if market is not None:
            request["market"] = market.key
        try:
            with self._arrived:
                reply, fds = self._request(request, [stdin_r, stdout_w, stderr_w])
                if "error" in reply or len(fds) != 1:
                    for fd in fds:
                        os.close(fd)
                    raise ForkServerError(str(reply.get("error", "no pidfd in the reply")))
                pid = int(reply["pid"])
                process = ForkedProcess(
                    pid, fds[0], stdin_w, stdout_r, stderr_r, settle=self._settle_if_gone
                )
                ours = []
                self._processes[pid] = process
                if pid in self._early_exits:
                    process._set_returncode(self._early_exits.pop(pid))
                return process
        finally:
            for fd in (stdin_r, stdout_w, stderr_w, *ours):
                os.close(fd)

    def load_market(self, market: MarketData) -> PreloadedMarket:
        """Load `market`'s arrays into the server once (a sweep's bars), so the workers forked
        with the returned PreloadedMarket inherit them instead of receiving them in their job
        (sandbox.supervisor sends a job without arrays to such a worker). ForkServerError
        when the server refuses them or is gone; unload_market frees them."""
        from sandbox import codec
        from sandbox.protocol import encode_parts

        self.wait_ready()
        with self._arrived:
            self._next_market += 1
            key = f"market-{self._next_market}"
        chunks = encode_parts({"type": "market"}, codec.market_arrays(market))
        read_end, write_end = os.pipe()
        writer = threading.Thread(
            target=_write_all, args=(write_end, chunks), name="fork-server-market", daemon=True
        )
        try:
            writer.start()
            with self._arrived:
                reply, fds = self._request({"op": "load", "key": key}, [read_end])
        finally:
            os.close(read_end)
            writer.join(SPAWN_TIMEOUT_S)
        for fd in fds:
            os.close(fd)
        if reply.get("loaded") != key:
            raise ForkServerError(f"the fork server refused the market: {reply.get('error')}")
        return PreloadedMarket(self, key, market)

    def unload_market(self, market: PreloadedMarket) -> None:
        """Forget a market load_market loaded (workers forked with it keep their copy)."""
        if market.server is not self or not self.is_alive:
            return
        with contextlib.suppress(ForkServerError, OSError), self._arrived:
            self._request({"op": "unload", "key": market.key}, [])

    def _request(self, message: dict[str, Any], fds: list[int]) -> tuple[dict[str, Any], list[int]]:
        """Send one request (the lock held) and wait for its reply and descriptors."""
        self._next_id += 1
        request_id = self._next_id
        _send(self._socket, {**message, "id": request_id}, fds)
        if not self._arrived.wait_for(
            lambda: request_id in self._replies or self._is_closed, SPAWN_TIMEOUT_S
        ):
            raise ForkServerError(f"the fork server did not answer a {message['op']} request")
        if request_id not in self._replies:
            raise ForkServerError("the fork server stopped")
        return self._replies.pop(request_id)

    def _read(self) -> None:
        while True:
            try:
                message, fds = _receive(self._socket)
            except (OSError, ValueError):
                message, fds = None, []
            with self._arrived:
                if message is None:
                    self._stop_locked()
                    return
                if message.get("ready") is True:
                    self._is_ready = True
                elif "exited" in message:
                    self._record_exit(int(message["exited"]), int(message["returncode"]))
                elif isinstance(message.get("id"), int):
                    self._replies[message["id"]] = (message, fds)
                self._arrived.notify_all()

    def _record_exit(self, pid: int, code: int) -> None:
        process = self._processes.pop(pid, None)
        if process is None:
            self._early_exits[pid] = code  # the reply with its pid is still on its way
        else:
            process._set_returncode(code)

    def _settle_if_gone(self) -> None:
        """Once the server process has exited, wait for the reader to take in its last reports
        and mark the children nobody watches any more as killed (_stop_locked): until then such
        a child looks alive, and a pool would hand it out to a run that its kill then fails."""
        if self.process.poll() is not None and threading.current_thread() is not self._reader:
            self._reader.join(SETTLE_S)

    def _stop_locked(self) -> None:
        """The server is gone: children it had not reported on are killed (their status can no
        longer be known) and reported as killed."""
        self._is_closed = True
        for process in self._processes.values():
            process.kill()
            process._set_returncode(-signal.SIGKILL)
        self._processes.clear()
        self._arrived.notify_all()

    def _stderr_tail(self) -> str:
        return bytes(self._stderr[-2000:]).decode("utf-8", "replace") or "no output"

    @property
    def is_alive(self) -> bool:
        return not self._is_closed and self.process.poll() is None

    def close(self) -> None:
        with self._arrived:
            is_warming = not self._is_ready  # still importing: it reads no socket, has no child
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        if is_warming:
            self.process.kill()  # rather than wait seconds for a warm-up nobody wants
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        self._drainer.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


if __name__ == "__main__":
    sys.exit(main())
