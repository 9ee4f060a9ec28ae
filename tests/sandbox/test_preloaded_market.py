"""A sweep's market loaded once into the fork server: its children run on it without receiving
it (same results as a job that carries it), the arrays are read-only for good, a child that
tries to change them (or anything else it reaches) changes nothing for the next child, and a
fork request or a load the server cannot honour is refused with a sentence."""

from __future__ import annotations

import os
import threading
from typing import cast

import numpy as np
import pytest

from app.engine import MarketData, RunConfig
from sandbox import ForkServer, ForkServerError, RunLimits, codec, run_sandboxed
from sandbox.forkserver import PreloadedMarket, read_market
from sandbox.protocol import encode_parts
from sandbox.supervisor import WarmWorker, run_unvalidated_for_tests
from tests.sandbox.conftest import outcome
from tests.sandbox.test_forkserver import MUTATOR, PRELUDE, REFERENCE

LIMITS = RunLimits(wall_seconds=60.0, cpu_seconds=20.0, memory_mb=1024)

# Tries to write into every array of the bars it can reach, and to make them writable first.
MARKET_MUTATOR = """
class MarketMutator(Strategy):
    def initialize(self):
        self.fast = self.indicator("sma", length=5)

    def on_data(self, bar):
        for column in [self.data.close, self.data.open, self.data.high, self.data.low]:
            for window in [column[:], np.asarray(column[:])]:
                for attempt in range(3):
                    try:
                        if attempt == 0:
                            window.setflags(write=True)
                        if attempt == 1:
                            window.base.setflags(write=True)
                        window[0] = 1e6
                        window.base[0] = 1e6
                    except Exception:
                        pass
        self.buy(0.1) if bar.index % 5 == 0 else self.close_position()
"""


def market_pipe(market: MarketData, *, cut: int = 0) -> int:
    """The read end of a pipe holding `market`'s frame (its last `cut` bytes left out)."""
    data = b"".join(bytes(c) for c in encode_parts({"type": "market"}, codec.market_arrays(market)))
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data[: len(data) - cut])

    threading.Thread(target=write, daemon=True).start()
    return read_end


def test_a_loaded_market_is_read_only_and_cannot_be_made_writable(market: MarketData) -> None:
    arrays = read_market(market_pipe(market))
    assert np.array_equal(arrays["close"], market.close)
    for name, values in arrays.items():
        assert not values.flags.writeable, name
        with pytest.raises(ValueError):
            values.setflags(write=True)


def test_a_cut_short_market_is_refused(market: MarketData) -> None:
    with pytest.raises(ValueError, match=r"malformed|short"):
        read_market(market_pipe(market, cut=8))


def test_a_worker_forked_with_the_market_runs_as_one_sent_it(
    server: ForkServer, long_market: MarketData
) -> None:
    code = PRELUDE + REFERENCE
    preloaded = server.load_market(long_market)
    try:
        worker = WarmWorker(market=preloaded)
        assert worker.has_market(long_market)  # its job goes without the arrays
        forked = run_sandboxed(code, long_market, RunConfig(), LIMITS, worker=worker)
        sent = run_sandboxed(
            code, long_market, RunConfig(), LIMITS, worker=WarmWorker(forkserver=server)
        )
    finally:
        server.unload_market(preloaded)
    assert outcome(forked) == outcome(sent)
    assert len(forked.trades) > 0


def test_cant_change_the_preloaded_market_or_anything_for_the_next_trial(
    server: ForkServer, long_market: MarketData
) -> None:
    code = PRELUDE + REFERENCE
    preloaded = server.load_market(long_market)
    try:
        before = run_sandboxed(
            code, long_market, RunConfig(), LIMITS, worker=WarmWorker(market=preloaded)
        )
        for mutator in (PRELUDE + MUTATOR, PRELUDE + MARKET_MUTATOR):  # unvalidated: only
            run_unvalidated_for_tests(  # RestrictedPython, the guards and the OS stop them
                mutator, long_market, RunConfig(), LIMITS, worker=WarmWorker(market=preloaded)
            )
        after = run_sandboxed(
            code, long_market, RunConfig(), LIMITS, worker=WarmWorker(market=preloaded)
        )
    finally:
        server.unload_market(preloaded)
    assert outcome(after) == outcome(before)
    assert len(before.logs) > 0


def test_a_fork_with_an_unloaded_market_is_refused(server: ForkServer, market: MarketData) -> None:
    preloaded = server.load_market(market)
    server.unload_market(preloaded)
    with pytest.raises(ForkServerError, match="no loaded market"):
        WarmWorker(market=preloaded)


def test_a_market_of_another_fork_server_is_refused(server: ForkServer, market: MarketData) -> None:
    elsewhere = PreloadedMarket(cast(ForkServer, object()), "market-1", market)
    with pytest.raises(ForkServerError, match="another fork server"):
        server.spawn("/", elsewhere)
