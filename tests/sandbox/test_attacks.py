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

Workers are forked by a fork server, as every run the server's job pool starts (the harder
case: the child inherits the server's imported modules); a sample with one attack of each
kind also runs in workers started from scratch, as `strategylab run` starts them.
The corpus runs once per test session: the first xdist worker that needs it computes it under
a file lock and leaves it for the others (a split module used to run it twice).
"""

from __future__ import annotations

import fcntl
import os
import pickle
import secrets
import time
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
    WarmWorker,
    WorkerFailed,
    run_sandboxed,
    start_fork_server,
    start_worker,
    validate_source,
)
from sandbox.compile import restricted_code
from sandbox.forkserver import ForkServer
from sandbox.supervisor import run_unvalidated_for_tests

# The first attack test also sets up every attack's outcome (seconds to a minute on 2 cores).
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
# One of each kind, also run in workers started from scratch: a host read, an import and a
# pickle without validation, a guard, a memory limit, capped logs, an engine refusal.
FRESH_SAMPLE = (
    "020_open_read",
    "029_import_os",
    "065_pandas_read_pickle",
    "080_memory_bomb_list",
    "086_log_flood",
    "091_patch_base_class",
    "120_negative_drift",
)
FRESH_ATTACKS = [attack for attack in ALL_ATTACKS if attack.name in FRESH_SAMPLE]


@dataclass(frozen=True, slots=True)
class Corpus:
    """Every attack's outcomes, and what the runs left behind."""

    secret: str  # the token planted in SECRET while the attacks ran
    forked: dict[str, tuple[Outcome, Outcome | None]]  # (validated, unvalidated when run)
    fresh: dict[str, tuple[Outcome, Outcome | None]]  # FRESH_SAMPLE, workers from scratch
    forked_leftovers: list[str]  # the fork server's children still there after the runs


def observe(
    attack: Attack,
    market: MarketData,
    config: RunConfig,
    *,
    validated: bool,
    server: ForkServer | None,
) -> Outcome:
    """Run an attack through the sandbox (in a worker forked by `server`, or started from
    scratch without one) and describe how it ended."""
    worker: WarmWorker | None = start_worker(server) if server is not None else None
    try:
        if validated:
            result = run_sandboxed(
                attack.code,
                market,
                config,
                ATTACK_LIMITS,
                filename=f"{attack.name}.py",
                worker=worker,
            )
        else:
            result = run_unvalidated_for_tests(
                attack.code, market, config, ATTACK_LIMITS, worker=worker
            )
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


def run_corpus(
    attacks: list[Attack], market: MarketData, config: RunConfig, server: ForkServer | None
) -> dict[str, tuple[Outcome, Outcome | None]]:
    """Every attack's outcome (and, for refused ones, the outcome without validation).

    Worker runs go two at a time (one per core); each is its own process.
    """
    found: dict[str, tuple[Outcome, Outcome | None]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: dict[str, tuple[Future[Outcome] | Outcome, Future[Outcome] | Outcome | None]] = {}
        for attack in attacks:
            if attack.kind == "rejected":
                unvalidated: Future[Outcome] | Outcome = Outcome(
                    "rejected", frozenset({"SB400"}), ""
                )
                if compiles_restricted(attack) and reaches_for_the_host(attack):
                    unvalidated = pool.submit(
                        observe, attack, market, config, validated=False, server=server
                    )
                pending[attack.name] = (validation_outcome(attack), unvalidated)
            else:
                pending[attack.name] = (
                    pool.submit(observe, attack, market, config, validated=True, server=server),
                    None,
                )
        for name, (first, second) in pending.items():
            found[name] = (_resolved(first), None if second is None else _resolved(second))
    return found


def _resolved(value: Future[Outcome] | Outcome) -> Outcome:
    return value.result() if isinstance(value, Future) else value


def compute_corpus(market: MarketData, config: RunConfig) -> Corpus:
    """Plant the secret, run every attack in forked workers and the sample in fresh ones."""
    token = secrets.token_hex(16)
    SECRET.write_text(token)
    SECRET.chmod(0o600)
    CANARY.unlink(missing_ok=True)
    server = start_fork_server()
    try:
        forked = run_corpus(ALL_ATTACKS, market, config, server)
        leftovers = settled_children(server.process.pid)
    finally:
        server.close()
    try:
        fresh = run_corpus(FRESH_ATTACKS, market, config, None)
    finally:
        SECRET.unlink(missing_ok=True)
    return Corpus(token, forked, fresh, leftovers)


def settled_children(parent: int) -> list[str]:
    """`parent`'s children still there a few seconds after the runs ended (leaked workers)."""
    deadline = time.monotonic() + 5
    while (children := child_processes(parent)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return children


@pytest.fixture(scope="module")
def corpus(
    tmp_path_factory: pytest.TempPathFactory, market: MarketData, config: RunConfig
) -> Corpus:
    """The corpus, computed once per session: under xdist the first worker to get here computes
    it holding a lock in the session's shared temporary folder; the others read its result."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return compute_corpus(market, config)
    shared = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers
    saved = shared / "attack-corpus.pickle"
    with (shared / "attack-corpus.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            found: Corpus = pickle.loads(saved.read_bytes())
            return found
        computed = compute_corpus(market, config)
        saved.write_bytes(pickle.dumps(computed))
        return computed


@pytest.fixture(scope="module")
def outcomes(corpus: Corpus) -> dict[str, tuple[Outcome, Outcome | None]]:
    return corpus.forked


@pytest.fixture(scope="module")
def secret(corpus: Corpus) -> str:
    return corpus.secret


def test_the_suite_has_at_least_sixty_distinct_attacks() -> None:
    assert len(ALL_ATTACKS) >= 60
    assert len({a.code for a in ALL_ATTACKS}) == len(ALL_ATTACKS)


@pytest.mark.parametrize("attack", ALL_ATTACKS, ids=[a.name for a in ALL_ATTACKS])
def test_attack_is_refused_or_contained(
    attack: Attack, outcomes: dict[str, tuple[Outcome, Outcome | None]], secret: str
) -> None:
    assert_refused_or_contained(attack, outcomes[attack.name], secret)


@pytest.mark.parametrize("attack", FRESH_ATTACKS, ids=[a.name for a in FRESH_ATTACKS])
def test_attack_is_refused_or_contained_in_a_worker_started_from_scratch(
    attack: Attack, corpus: Corpus
) -> None:
    assert_refused_or_contained(attack, corpus.fresh[attack.name], corpus.secret)


def test_the_fresh_sample_has_one_attack_of_each_kind() -> None:
    assert len(FRESH_ATTACKS) == len(FRESH_SAMPLE)
    kinds = {attack.kind for attack in FRESH_ATTACKS}
    assert {"rejected", "failed", "limit", "engine", "completes"} <= kinds
    assert any(reaches_for_the_host(a) and a.kind == "rejected" for a in FRESH_ATTACKS)


def assert_refused_or_contained(
    attack: Attack, outcomes: tuple[Outcome, Outcome | None], secret: str
) -> None:
    outcome, unvalidated = outcomes
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


def child_processes(parent: int) -> list[str]:
    """`parent`'s children as "pid: command line"."""
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


def test_no_worker_outlives_the_suite(corpus: Corpus) -> None:
    # Other tests in this process may be closing a worker pool right now (a server's shutdown
    # runs on its own thread): what is still here after a few seconds has leaked. Forked
    # workers are the fork server's children: none was left when the runs had ended.
    assert corpus.forked_leftovers == []
    assert settled_children(os.getpid()) == []
