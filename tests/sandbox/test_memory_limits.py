"""Running out of memory is the memory limit, never an error in the user's code.

Each strategy below allocates far past its limit another way: plain lists, strings, the
numpy and pandas facades, growth bar by bar, an allocation the strategy catches itself.
Every one must end as "memory limit of N MB reached" (LimitExceeded), not StrategyFailed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.engine import MarketData, RunConfig, StrategyRuntimeError
from sandbox import LimitExceeded, LimitsRefused, OperatorMaximums, RunLimits, run_sandboxed
from sandbox.errors import WorkerFailed
from sandbox.limits import MIN_MEMORY_MB
from sandbox.memory_watch import MemoryExhausted, MemoryWatch, is_memory_error
from sandbox.protocol import encode
from sandbox.supervisor import _WorkerSession
from tests.sandbox.test_worker import fake_worker

LIMITS = RunLimits(wall_seconds=60.0, cpu_seconds=20.0, memory_mb=MIN_MEMORY_MB)


def strategy(on_data: str, *, imports: str = "", initialize: str = "pass") -> str:
    return f"{imports}\n\nclass Hog(Strategy):\n" + textwrap.indent(
        f"def initialize(self):\n    {initialize}\n\ndef on_data(self, bar):\n"
        + textwrap.indent(textwrap.dedent(on_data), "    "),
        "    ",
    )


ALLOCATIONS = {
    "plain_list": strategy("self.hog = [0] * (10 ** 10)\n"),
    "list_of_lists": strategy("self.hog = [[bar.close] * 1000 for i in range(10 ** 7)]\n"),
    "string": strategy("self.hog = 'x' * (10 ** 11)\n"),
    "numpy_facade": strategy(
        "self.hog = np.ones((100_000, 100_000))\n", imports="import numpy as np"
    ),
    "numpy_facade_in_initialize": strategy(
        "pass\n", imports="import numpy as np", initialize="self.hog = np.zeros(10 ** 11)"
    ),
    "pandas_facade": strategy(
        "self.hog = pd.Series(np.arange(10 ** 10, dtype=float))\n",
        imports="import numpy as np\nimport pandas as pd",
    ),
    "pandas_frame_concat": strategy(
        "frame = pd.DataFrame({'a': np.ones(10 ** 6)})\nself.hog = pd.concat([frame] * 10_000)\n",
        imports="import numpy as np\nimport pandas as pd",
    ),
    "growth_bar_by_bar": strategy(
        "self.hog.append([bar.close] * (8 * 1024 * 1024))\n", initialize="self.hog = []"
    ),
    "caught_by_the_strategy": strategy(
        "try:\n    self.hog = np.zeros(10 ** 11)\nexcept Exception:\n    self.hog = None\n",
        imports="import numpy as np",
    ),
    "caught_in_an_endless_loop": strategy(
        "while True:\n    try:\n        self.hog.append('x' * 10 ** 7)\n"
        "    except Exception:\n        self.hog = []\n",
        initialize="self.hog = []",
    ),
    "caught_dict_growth": strategy(
        "try:\n    for i in range(10 ** 8):\n        self.hog[i] = str(i) * 20\n"
        "except Exception:\n    self.log('caught')\n",
        initialize="self.hog = {}",
    ),
    "caught_and_logged": strategy(
        "try:\n    self.hog = [1.5] * (10 ** 10)\nexcept Exception as error:\n"
        "    self.log('no memory: ' + str(error))\n"
    ),
}


@pytest.mark.slow  # a worker per variant: about 2 s each on an idle machine
@pytest.mark.parametrize("name", sorted(ALLOCATIONS))
def test_cant_report_running_out_of_memory_as_an_error_in_the_strategy(
    name: str, market: MarketData
) -> None:
    with pytest.raises(LimitExceeded) as caught:
        run_sandboxed(ALLOCATIONS[name], market, RunConfig(), LIMITS)
    assert not isinstance(caught.value, StrategyRuntimeError)
    assert str(caught.value) == f"memory limit of {MIN_MEMORY_MB} MB reached"
    assert caught.value.limit == "memory"


def test_cant_report_a_larger_limit_than_the_run_had(market: MarketData) -> None:
    limits = RunLimits(wall_seconds=60.0, cpu_seconds=20.0, memory_mb=384)
    with pytest.raises(LimitExceeded, match=r"^memory limit of 384 MB reached$"):
        run_sandboxed(ALLOCATIONS["plain_list"], market, RunConfig(), limits)


@pytest.mark.parametrize("memory_mb", [0, 1, 64, MIN_MEMORY_MB - 1])
def test_cant_ask_for_less_memory_than_the_floor(memory_mb: int) -> None:
    with pytest.raises(LimitsRefused, match=f"memory_mb must .*{memory_mb}"):
        RunLimits(memory_mb=memory_mb).checked(OperatorMaximums())


def test_the_floor_itself_is_accepted() -> None:
    assert RunLimits(memory_mb=MIN_MEMORY_MB).checked(OperatorMaximums()).memory_mb == 256


class WrappedError(Exception):
    pass


def _raise_from(cause: BaseException, *, implicit: bool = False) -> BaseException:
    """A WrappedError raised from `cause` (`raise ... from`), or while handling it."""
    try:
        try:
            raise cause
        except BaseException as error:
            if implicit:
                raise WrappedError("while handling")  # noqa: B904  (the implicit context is the point)
            raise WrappedError("wrapped") from error
    except WrappedError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MemoryError(), True),
        (_raise_from(MemoryError()), True),
        (_raise_from(MemoryError(), implicit=True), True),
        (_raise_from(_raise_from(MemoryError())), True),
        (ValueError("malloc of size 64 failed"), False),
        (_raise_from(ValueError()), False),
    ],
    ids=["plain", "cause", "context", "two_deep", "words_only", "other_cause"],
)
def test_memory_errors_are_recognised_through_their_chain(
    error: BaseException, expected: bool
) -> None:
    assert is_memory_error(error) is expected


def test_memory_error_chains_that_loop_end() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert is_memory_error(first) is False


def test_cant_catch_a_memory_error_while_the_watch_runs() -> None:
    watch = MemoryWatch()
    assert watch.start().startswith("active")
    try:
        try:
            raise KeyError("other errors are not memory")
        except KeyError:
            pass
        assert not watch.has_seen_memory_error
        with pytest.raises(MemoryExhausted):
            try:
                raise MemoryError
            except Exception:  # what a strategy may write
                pass
    finally:
        watch.stop()
    with pytest.raises(MemoryExhausted, match="MemoryError was raised"):
        watch.check()  # seen: it raises again for code that swallowed even MemoryExhausted


def _swallow_in_a_loop(allocate: Callable[[], object]) -> int:
    caught = 0
    for _ in range(5):
        try:
            allocate()
        except Exception:  # a strategy that frees something and tries again
            caught += 1
    return caught


@pytest.mark.parametrize(
    "allocate",
    [
        pytest.param(lambda: [0] * (2**61), id="list"),
        pytest.param(lambda: bytearray(2**62), id="bytes"),
        pytest.param(lambda: np.zeros(2**50), id="numpy"),
        pytest.param(lambda: _raise(MemoryError("made up")), id="raised by name"),
    ],
)
def test_cant_swallow_memory_errors_in_a_loop(allocate: Callable[[], object]) -> None:
    watch = MemoryWatch()
    watch.start()
    try:
        with pytest.raises(MemoryExhausted):
            _swallow_in_a_loop(allocate)
    finally:
        watch.stop()
    assert _swallow_in_a_loop(allocate) == 5  # without the watch every one is caught


def _raise(error: BaseException) -> None:
    raise error


def test_a_stopped_watch_sees_nothing() -> None:
    watch = MemoryWatch()
    watch.start()
    watch.stop()
    try:
        raise MemoryError
    except MemoryError:
        pass
    watch.check()  # nothing seen, nothing raised
    assert not watch.has_seen_memory_error


@pytest.mark.parametrize(
    "last_words",
    [
        "Traceback (most recent call last):\\n  ...\\nMemoryError",
        "terminate called after throwing an instance of 'std::bad_alloc'",
        "LLVM ERROR: out of memory",
        "mmap failed: Cannot allocate memory",
    ],
    ids=["python", "cpp", "llvm", "errno"],
)
def test_cant_report_a_worker_that_died_of_memory_as_a_crash(
    tmp_path: Path, last_words: str
) -> None:
    script = f"import os, sys\nsys.stderr.write({last_words!r})\nsys.stderr.flush()\nos.abort()\n"
    session = _WorkerSession(LIMITS, OperatorMaximums(), None, None, fake_worker(tmp_path, script))
    with pytest.raises(LimitExceeded, match=f"^memory limit of {MIN_MEMORY_MB} MB reached$"):
        session.run([encode({"type": "job"})])


def test_a_worker_that_died_of_something_else_is_a_worker_failure(tmp_path: Path) -> None:
    script = "import os, sys\nsys.stderr.write('Segmentation fault')\nos.abort()\n"
    session = _WorkerSession(LIMITS, OperatorMaximums(), None, None, fake_worker(tmp_path, script))
    with pytest.raises(WorkerFailed):
        session.run([encode({"type": "job"})])
