"""The parent trusts no checkpoint a worker sends: each message is read by the engine's strict
readers and the codec, merged with what came before, and refused (ProtocolError) when it is
not one an honest worker sends. A checkpoint's state must survive the wire unchanged."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.engine import RunConfig, simulate
from app.engine.checkpoint import Checkpoint
from app.engine.checkpoint_document import checkpoint_to_plain
from sandbox.checkpoint_wire import (
    CheckpointCollector,
    CheckpointStream,
    checkpoint_from_job,
    resume_job_parts,
)
from sandbox.errors import ProtocolError
from sandbox.limits import RunLimits
from sandbox.protocol import PARENT_MESSAGES, WORKER_MESSAGES, Frame, FrameReader, encode
from tests.engine.randomized import random_market
from tests.engine.test_checkpoint import StatefulTrader

BARS = 240


@pytest.fixture(scope="module")
def taken() -> list[Checkpoint]:
    market = random_market(4, BARS, gap_chance=0.05)
    checkpoints: list[Checkpoint] = []
    config = RunConfig(checkpoint_every=40)
    simulate(StatefulTrader, market, config, on_checkpoint=checkpoints.append)
    assert len(checkpoints) >= 4
    return checkpoints


def wire_frames(checkpoints: list[Checkpoint]) -> list[Frame]:
    """The worker's checkpoint messages, read as the parent reads worker output."""
    sent: list[bytes] = []
    stream = CheckpointStream(lambda chunk: sent.append(bytes(chunk)), None)
    for checkpoint in checkpoints:
        stream(checkpoint)
    reader = FrameReader(
        max_json_bytes=1 << 24, max_blob_bytes=1 << 24, allowed=WORKER_MESSAGES, is_untrusted=True
    )
    return reader.feed(b"".join(sent))


def collect(frames: list[Frame], limits: RunLimits | None = None) -> list[Checkpoint]:
    received: list[Checkpoint] = []
    collector = CheckpointCollector(limits or RunLimits(), BARS, received.append)
    for frame in frames:
        collector.receive(frame)
    return received


def test_the_parent_rebuilds_every_checkpoint_the_worker_took(taken: list[Checkpoint]) -> None:
    received = collect(wire_frames(taken))
    assert [checkpoint_to_plain(c) for c in received] == [checkpoint_to_plain(c) for c in taken]


def test_each_message_carries_only_the_records_since_the_last(taken: list[Checkpoint]) -> None:
    frames = wire_frames(taken)
    carried = sum(len(frame.arrays["trades.pnl"]) for frame in frames)
    assert carried == len(taken[-1].trades)  # every trade crossed once, not once per message


def test_a_resumed_job_carries_its_checkpoint_whole(taken: list[Checkpoint]) -> None:
    body, arrays = resume_job_parts(taken[1])
    reader = FrameReader(max_json_bytes=1 << 24, max_blob_bytes=1 << 24, allowed=PARENT_MESSAGES)
    [job] = reader.feed(encode({"type": "job", "resume": body}, arrays))
    back = checkpoint_from_job(job)
    assert back is not None and checkpoint_to_plain(back) == checkpoint_to_plain(taken[1])


def _tampered(frame: Frame, change: Any) -> Frame:
    body = copy.deepcopy(frame.body)
    arrays = dict(frame.arrays)
    change(body, arrays)
    return Frame(body=body, arrays=arrays)


@pytest.mark.parametrize(
    "change",
    [
        lambda body, arrays: body.update(bar=10**9),  # beyond the data
        lambda body, arrays: body.update(bar=0),  # before the previous one
        lambda body, arrays: body["engine"].update(cash="lots"),
        lambda body, arrays: body["engine"].pop("working"),
        lambda body, arrays: body["engine"]["broker"].update(next_work=[1]),
        lambda body, arrays: body["strategy"]["nodes"].append(["code", "import os"]),
        lambda body, arrays: body["strategy"]["roots"].update(_context=0),
        lambda body, arrays: arrays.update({"marks.index": arrays["marks.index"][::-1].copy()}),
        lambda body, arrays: arrays.update({"trades.pnl": arrays["trades.pnl"] * float("inf")}),
        lambda body, arrays: body["records"].pop("logs"),
    ],
    ids=[
        "bar-beyond-data",
        "bar-backwards",
        "cash-text",
        "no-working-orders",
        "broker-list",
        "code-node",
        "engine-attribute",
        "marks-backwards",
        "infinite-pnl",
        "missing-log-column",
    ],
)
def test_a_checkpoint_no_honest_worker_sends_is_refused(
    taken: list[Checkpoint], change: Any
) -> None:
    frames = wire_frames(taken)
    with pytest.raises(ProtocolError):
        collect([frames[0], _tampered(frames[1], change)])


def test_a_checkpoint_past_the_record_caps_is_refused(taken: list[Checkpoint]) -> None:
    frames = wire_frames(taken)
    with pytest.raises(ProtocolError, match="more records"):
        collect(frames, RunLimits(max_trades=max(1, len(taken[-1].trades) - 1)))


def test_a_checkpoint_the_run_did_not_ask_for_is_refused(taken: list[Checkpoint]) -> None:
    from sandbox.limits import OperatorMaximums
    from sandbox.supervisor import _WorkerSession

    session = _WorkerSession(RunLimits(), OperatorMaximums(), None, None)
    with pytest.raises(ProtocolError, match="did not ask for"):
        session._handle(wire_frames(taken)[:1])
