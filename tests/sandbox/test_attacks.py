"""The hostile suite: each file in attacks/ is refused or contained as its header says, no trace.

Header lines of an attack file:
    # attack: what it tries
    # expect: rejected SBnnn | failed ExcType | limit cpu|memory | engine ErrorType
              | completes [logs_capped]
    # message: text the user-facing message must contain (optional)

Refused attacks are also compiled with validation switched off, to show that the next layers
stop them on their own: RestrictedPython's compile refuses many; those it compiles and that
reach for the host (files, imports) run in a worker without validation, where the guards and
the OS layers must hold. (test_guards.py covers the guards for the others, in-process.)
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine import EngineError, MarketData, RunConfig, RunResult
from sandbox import (
    LimitExceeded,
    RunLimits,
    StrategyFailed,
    StrategyRejected,
    WorkerFailed,
    run_sandboxed,
    validate_source,
)
from sandbox.compile import restricted_code
from sandbox.supervisor import run_unvalidated_for_tests

# The first attack test also sets up every attack's outcome (about a minute on two idle cores).
pytestmark = pytest.mark.timeout(900)

ATTACKS = Path(__file__).resolve().parent / "attacks"
CANARY = Path("/tmp/strategylab_attack_canary.txt")
SECRET = Path("/tmp/strategylab_attack_secret.txt")
LIMIT_NAMES = {"CPU time": "cpu", "memory": "memory", "wall-clock time": "wall"}
ATTACK_LIMITS = RunLimits(wall_seconds=40.0, cpu_seconds=2.0, memory_mb=256, max_log_lines=200)
MAX_LOG_CHARS = 2_100


@dataclass(frozen=True, slots=True)
class Attack:
    name: str
    what: str
    kind: str
    details: tuple[str, ...]
    message: str
    code: str


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # rejected, failed, limit, engine, completes, worker
    details: frozenset[str]
    text: str
    result: RunResult | None = None


def load_attack(path: Path) -> Attack:
    code = path.read_text()
    header = {}
    for line in code.splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(":")
        header[key.strip()] = value.strip()
    kind, *details = header["expect"].split()
    return Attack(
        path.stem, header["attack"], kind, tuple(details), header.get("message", ""), code
    )


ALL_ATTACKS = [load_attack(path) for path in sorted(ATTACKS.glob("*.py"))]


def observe(attack: Attack, market: MarketData, config: RunConfig, *, validated: bool) -> Outcome:
    """Run an attack through the sandbox and describe how it ended."""
    try:
        if validated:
            result = run_sandboxed(
                attack.code, market, config, ATTACK_LIMITS, filename=f"{attack.name}.py"
            )
        else:
            result = run_unvalidated_for_tests(attack.code, market, config, ATTACK_LIMITS)
    except StrategyRejected as error:
        return Outcome(
            "rejected",
            frozenset(d.code for d in error.diagnostics),
            " ".join(d.message for d in error.diagnostics),
        )
    except StrategyFailed as error:
        return Outcome("failed", frozenset({error.exc_type}), str(error))
    except LimitExceeded as error:
        return Outcome("limit", frozenset({LIMIT_NAMES[error.limit]}), str(error))
    except EngineError as error:
        return Outcome("engine", frozenset({type(error).__name__}), str(error))
    except WorkerFailed as error:
        return Outcome("worker", frozenset({type(error).__name__}), str(error))
    return Outcome("completes", frozenset(), "", result)


def validation_outcome(attack: Attack) -> Outcome:
    found = [d for d in validate_source(attack.code, f"{attack.name}.py") if d.is_error]
    if not found:
        return Outcome("completes", frozenset(), "")
    return Outcome("rejected", frozenset(d.code for d in found), " ".join(d.message for d in found))


def reaches_for_the_host(attack: Attack) -> bool:
    """Payloads touching files or modules: worth a worker run without validation."""
    return "/tmp/strategylab_attack" in attack.code or "import" in attack.code


def compiles_restricted(attack: Attack) -> bool:
    try:
        restricted_code(attack.code, f"{attack.name}.py")
    except StrategyRejected:
        return False
    return True


@pytest.fixture(scope="module")
def secret() -> Iterator[str]:
    token = secrets.token_hex(16)
    SECRET.write_text(token)
    SECRET.chmod(0o600)
    CANARY.unlink(missing_ok=True)
    yield token
    SECRET.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def outcomes(
    secret: str, market: MarketData, config: RunConfig
) -> dict[str, tuple[Outcome, Outcome | None]]:
    """Every attack's outcome (and, for refused ones, the outcome without validation).

    Worker runs go two at a time (one per core); each is its own process.
    """
    found: dict[str, tuple[Outcome, Outcome | None]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: dict[str, tuple[Future[Outcome] | Outcome, Future[Outcome] | Outcome | None]] = {}
        for attack in ALL_ATTACKS:
            if attack.kind == "rejected":
                unvalidated: Future[Outcome] | Outcome = Outcome(
                    "rejected", frozenset({"SB400"}), ""
                )
                if compiles_restricted(attack) and reaches_for_the_host(attack):
                    unvalidated = pool.submit(observe, attack, market, config, validated=False)
                pending[attack.name] = (validation_outcome(attack), unvalidated)
            else:
                pending[attack.name] = (
                    pool.submit(observe, attack, market, config, validated=True),
                    None,
                )
        for name, (first, second) in pending.items():
            found[name] = (_resolved(first), None if second is None else _resolved(second))
    return found


def _resolved(value: Future[Outcome] | Outcome) -> Outcome:
    return value.result() if isinstance(value, Future) else value


def test_the_suite_has_at_least_sixty_distinct_attacks() -> None:
    assert len(ALL_ATTACKS) >= 60
    assert len({a.code for a in ALL_ATTACKS}) == len(ALL_ATTACKS)


@pytest.mark.parametrize("attack", ALL_ATTACKS, ids=[a.name for a in ALL_ATTACKS])
def test_attack_is_refused_or_contained(
    attack: Attack, outcomes: dict[str, tuple[Outcome, Outcome | None]], secret: str
) -> None:
    outcome, unvalidated = outcomes[attack.name]
    assert outcome.kind == attack.kind, f"{attack.what}: {outcome}"
    if attack.kind in ("rejected", "failed", "engine"):
        assert attack.details[0] in outcome.details, outcome
    if attack.kind == "limit":
        assert outcome.details & set(attack.details[0].split("|")), outcome
    assert attack.message in outcome.text
    if "logs_capped" in attack.details:
        assert outcome.result is not None
        assert len(outcome.result.logs) <= ATTACK_LIMITS.max_log_lines
        assert all(len(line.message) <= MAX_LOG_CHARS for line in outcome.result.logs)
    for seen in filter(None, (outcome, unvalidated)):
        assert_no_trace(seen, secret)
    if unvalidated is not None:
        # Without validation the payload must still fail or stay harmless (no trace above).
        assert unvalidated.kind != "worker" or "memory" in unvalidated.text, unvalidated


def assert_no_trace(outcome: Outcome, secret: str) -> None:
    assert not CANARY.exists(), "an attack wrote a file on the host"
    assert secret not in outcome.text
    if outcome.result is not None:
        assert all(secret not in line.message for line in outcome.result.logs)


def child_processes() -> list[str]:
    """This process's children as "pid: command line"."""
    parent = os.getpid()
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            if f"\nPPid:\t{parent}\n" in text:
                command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                children.append(f"{status.parent.name}: {command.decode(errors='replace')}")
        except OSError:
            continue
    return children


def test_no_worker_outlives_the_suite(outcomes: dict[str, tuple[Outcome, Outcome | None]]) -> None:
    # Other tests in this process may be closing a worker pool right now (a server's shutdown
    # runs on its own thread): what is still here after a few seconds has leaked.
    deadline = time.monotonic() + 5
    while (children := child_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children == []
