"""The sweep hub: viewers get the latest progress, each new trial once, a resync note when
they fall too far behind, and the closing messages last."""

from __future__ import annotations

import asyncio

from app.jobs.sweep_progress import MAX_PENDING_TRIALS, SweepHub


def trial(number: int) -> dict[str, object]:
    return {"type": "trial", "number": number}


def progress(done: int) -> dict[str, object]:
    return {"type": "progress", "trials_done": done}


def test_a_viewer_gets_the_latest_progress_then_new_trials_then_the_end() -> None:
    async def scenario() -> None:
        hub = SweepHub()
        hub.open("s", progress(0))
        viewer = hub.subscribe("s")
        assert viewer is not None
        assert viewer.take() == [progress(0)]
        hub.publish("s", progress(1), [trial(0)])
        hub.publish("s", progress(2), [trial(1)])  # the older progress is replaced
        assert viewer.take() == [trial(0), trial(1), progress(2)]
        hub.finish("s", [{"type": "done"}])
        assert viewer.is_ended and viewer.take() == [{"type": "done"}]
        assert hub.subscribe("s") is None and await hub.wait_finished("s", 0.1)

    asyncio.run(scenario())


def test_a_slow_viewer_holds_a_bounded_backlog_and_is_told_to_resync() -> None:
    async def scenario() -> None:
        hub = SweepHub()
        hub.open("s")
        viewer = hub.subscribe("s")
        assert viewer is not None
        extra = 25
        hub.publish("s", None, [trial(n) for n in range(MAX_PENDING_TRIALS + extra)])
        messages = viewer.take()
        assert messages[0] == {"type": "resync", "missed_trials": extra}
        assert [m["number"] for m in messages[1:]] == list(range(extra, MAX_PENDING_TRIALS + extra))

    asyncio.run(scenario())
