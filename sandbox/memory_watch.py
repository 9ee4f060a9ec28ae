"""Running out of memory inside the worker, however it surfaces: one answer, the memory limit.

Inside a worker whose memory is limited, an allocation that fails surfaces as a MemoryError
from Python, numpy (`_ArrayMemoryError`), pyarrow (`ArrowMemoryError: malloc of size 64
failed`), pandas or numba, often wrapped by the engine in a StrategyRuntimeError or an
IndicatorError, or caught by the strategy's own `except Exception` and dropped. Each of these
is the run reaching its memory limit, never an error in the user's code: `is_memory_error`
recognises the wrapped ones, and `MemoryWatch` turns every MemoryError raised in Python
code into MemoryExhausted at once (sys.monitoring's RAISE event, which costs nothing until
something raises), so a caught one still ends the run as "memory limit reached".
"""

from __future__ import annotations

import sys
from types import CodeType
from typing import Final

MAX_CHAIN: Final = 32
"""How many causes/contexts `is_memory_error` follows (a chain can be made to loop)."""
MONITORING_TOOL_NAME: Final = "strategylab-memory-watch"


def use_system_allocator() -> str:
    """Make pyarrow allocate with the C library's malloc, like numpy and Python do.

    pyarrow's default pool (mimalloc or jemalloc) reserves a large region at its first
    allocation (mimalloc: 1 GiB of private writable mappings), which counts against the
    worker's memory limit though it is never used: under a 1 GB limit the shipped SMA example
    failed with "ArrowMemoryError: malloc of size 64 failed" in `initialize()`, depending on
    whether that first allocation came before or after the lock-down. pandas keeps strings in
    pyarrow arrays, so every indicator call reaches it. The supervisor also starts the worker
    with ARROW_DEFAULT_MEMORY_POOL=system, so not even the imports touch the other pool.
    """
    import pyarrow  # only the worker needs it (pandas has loaded it already)

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    return f"active: pyarrow allocates with {pyarrow.default_memory_pool().backend_name} malloc"


OUT_OF_MEMORY_SIGNS: Final = (
    "MemoryError",  # Python's, numpy's, pyarrow's, printed with a traceback
    "std::bad_alloc",  # C++ code (LLVM under numba, pyarrow) that could not allocate
    "out of memory",  # LLVM's and the C libraries' own words
    "Cannot allocate memory",  # strerror(ENOMEM)
)


def tells_of_memory_exhaustion(stderr_tail: str) -> bool:
    """True when a dead worker's last words say an allocation failed (it died in C code
    before it could report a MemoryError)."""
    return any(sign in stderr_tail for sign in OUT_OF_MEMORY_SIGNS)


def is_memory_error(error: BaseException) -> bool:
    """True when `error`, or any exception it was raised from or while handling, is a
    MemoryError (numpy's, pyarrow's and the others derive from it)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        if isinstance(current, MemoryError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


class MemoryExhausted(BaseException):
    """Ends a run that raised a MemoryError somewhere, even one the strategy caught.

    A BaseException: strategy code cannot catch it (BaseException and bare `except:` are
    refused by validation), and the engine only wraps Exception subclasses.
    """


class MemoryWatch:
    """Ends the run at every MemoryError raised in Python code while it is started.

    Uses a sys.monitoring tool id of its own: its RAISE callback raises MemoryExhausted in
    place of the MemoryError, and `check()` raises it again once one was seen (the worker calls
    it with every progress report and after the run, for code that swallowed even that).
    """

    def __init__(self) -> None:
        self.has_seen_memory_error = False
        self._tool: int | None = None

    def start(self) -> str:
        """Register the RAISE callback; returns a status line like the OS layers'."""
        monitoring = sys.monitoring
        for tool in range(monitoring.PROFILER_ID + 1):  # ids 0-5 are free for any tool
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, MONITORING_TOOL_NAME)
                monitoring.register_callback(tool, monitoring.events.RAISE, self._on_raise)
                monitoring.set_events(tool, monitoring.events.RAISE)
                self._tool = tool
                return f"active: MemoryErrors watched (sys.monitoring tool {tool})"
        return "inactive: no free sys.monitoring tool id"

    def stop(self) -> None:
        """Unregister the callback (tests start and stop watches in one process)."""
        if self._tool is not None:
            monitoring = sys.monitoring
            monitoring.set_events(self._tool, 0)
            monitoring.register_callback(self._tool, monitoring.events.RAISE, None)
            monitoring.free_tool_id(self._tool)
            self._tool = None

    def check(self) -> None:
        """Raise MemoryExhausted when a MemoryError was raised since start()."""
        if self.has_seen_memory_error:
            raise MemoryExhausted("a MemoryError was raised during the run")

    def _on_raise(self, code: CodeType, offset: int, exception: BaseException) -> None:
        if isinstance(exception, MemoryError):
            self.has_seen_memory_error = True
            # Raised from the callback, MemoryExhausted replaces the MemoryError where it was
            # raised: no `except Exception` can keep the run going (a strategy that caught
            # MemoryError in a loop used to run on until its CPU or wall-clock limit, which
            # then named the wrong limit).
            raise MemoryExhausted("a MemoryError was raised during the run")
