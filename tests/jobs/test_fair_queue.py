"""Round-robin between owners: one user's many queued runs cannot starve another's one run."""

from __future__ import annotations

import threading

from app.jobs.queue import FairTurns, LocalProcessPool, RunJob


def test_owners_take_turns_and_each_owners_runs_keep_their_order() -> None:
    turns: FairTurns[str] = FairTurns()
    for number in range(4):
        turns.push("alice", f"a{number}", f"a{number}")
    turns.push("bob", "b0", "b0")
    turns.push("carol", "c0", "c0")
    turns.push("bob", "b1", "b1")
    taken = [turns.pop() for _ in range(len(turns))]
    assert taken == ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]
    assert turns.pop() is None


def test_a_removed_item_never_comes_out_and_an_emptied_owner_leaves_the_rotation() -> None:
    turns: FairTurns[str] = FairTurns()
    turns.push("alice", "a0", "a0")
    turns.push("bob", "b0", "b0")
    assert turns.remove("a0") == "a0"
    assert turns.remove("a0") is None
    assert [turns.pop(), turns.pop()] == ["b0", None]


def test_another_users_single_run_starts_after_one_run_not_after_a_thousand() -> None:
    gate = threading.Event()
    order: list[str] = []
    owners = {f"sweep-{number}": "alice" for number in range(1000)} | {"single": "bob"}

    def handler(job: RunJob, stop: threading.Event) -> None:
        gate.wait(5)  # the first run holds the only worker until everything is queued
        order.append(job.run_id)

    pool = LocalProcessPool(handler, workers=1, owner_of=owners.__getitem__)
    for number in range(1000):
        pool.submit(RunJob(f"sweep-{number}"))
    pool.submit(RunJob("single"))
    gate.set()
    while len(order) < 3:
        threading.Event().wait(0.01)
    pool.shutdown()
    assert order[0] == "sweep-0"
    assert "single" in order[:3]  # right after alice's current (and at most her next) run
