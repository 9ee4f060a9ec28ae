"""Golden outputs: every example strategy run in-process on the bundled sample data, each run's
output files hashed, so a refactor can show it changed no result byte.

    scripts/compare-golden --write /tmp/golden_before.json     # before the change
    scripts/compare-golden --against /tmp/golden_before.json   # after: exit 1 on any difference

The strategies are compiled by the sandbox's own compiler (validation, RestrictedPython and the
guards) but run in this process, without a worker: the engine's result is the same either way,
and the script stays quick. Each case is one example on one dataset under one config (futures
with fees, slippage and funding; spot; a 100x leverage cap on minute bars), and each file of the
run folder but provenance.json (which names the machine's commit) is hashed with sha256.
`--root DIR` runs another checkout of the code (for example `git archive HEAD` unpacked in /tmp)
on this checkout's sample data, so a baseline can be recorded from the last commit.

A request refused at placement became an order of its own (status `denied`, with an id) in
issue 10; before, it was only a log line. So beside each file's hash, orders.csv is also hashed
as it reads without its denied rows, ids renumbered (`orders.csv~accepted`): when only that
view matches, the orders are the same and the run merely lists its refused requests as well.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
HASHED_FILES = ("trades.csv", "orders.csv", "equity.csv", "log.txt", "metrics.json")
ACCEPTED_VIEW = "orders.csv~accepted"
MINUTE_BARS = 100_000  # about ten weeks of minute bars: every example's paths, in seconds


@dataclass(frozen=True, slots=True)
class Case:
    """One example on one dataset under one configuration (RunConfig keyword arguments)."""

    example: str
    dataset: str
    config: tuple[tuple[str, Any], ...]
    bars: int | None = None  # the first `bars` bars of the dataset; None for all of them
    others: tuple[str, ...] = ()  # more datasets traded in the same account (their symbols)

    @property
    def name(self) -> str:
        settings = ",".join(f"{key}={value}" for key, value in self.config)
        return f"{self.example}|{self.dataset}|{settings}"


FUTURES = (
    ("mode", "futures"),
    ("fee_maker", 0.0002),
    ("fee_taker", 0.0005),
    ("slippage_bps", 1.0),
    ("funding_rate", 0.0001),
)
SPOT = (("mode", "spot"), ("fee_maker", 0.001), ("fee_taker", 0.001))
CAPPED = (("mode", "futures"), ("leverage_max", 100.0), ("slippage_bps", 2.0))


SEVERAL_SYMBOLS = {"relative_strength": ("ETHUSDT-1h.parquet",)}
"""Examples that trade more symbols beside BTCUSDT: the sample datasets they get. There is no
minute sample of a second symbol, so these run on the hour samples only."""


def cases(examples_dir: Path) -> Iterator[Case]:
    for path in sorted(examples_dir.glob("*.py")):
        others = SEVERAL_SYMBOLS.get(path.stem, ())
        yield Case(path.stem, "BTCUSDT-1h.parquet", FUTURES, others=others)
        yield Case(path.stem, "BTCUSDT-1h.parquet", SPOT, others=others)
        if not others:
            yield Case(path.stem, "BTCUSDT-1m.parquet", CAPPED, bars=MINUTE_BARS)


def run_case(case: Case, examples_dir: Path, scratch: Path) -> dict[str, str]:
    """sha256 of each hashed output file of one case."""
    # Imported here so that `--root` decides which checkout the modules come from.
    from app.data import read_ohlcv
    from app.engine import MarketData, Mode, RunConfig, run_backtest
    from app.runs.folder import write_run_folder
    from sandbox import compile_strategy

    source = (examples_dir / f"{case.example}.py").read_text(encoding="utf-8")
    strategy = compile_strategy(source, f"{case.example}.py")
    frame = read_ohlcv(SAMPLES / case.dataset)
    if case.bars is not None:
        frame = frame.iloc[: case.bars]
    market = MarketData.from_frame(frame)
    if case.others:
        from app.engine import align_symbols

        others = [
            MarketData.from_frame(read_ohlcv(SAMPLES / name), symbol=name.split("-")[0])
            for name in case.others
        ]
        market = align_symbols([market, *others])
    settings = dict(case.config)
    settings["mode"] = Mode(settings["mode"])
    result = run_backtest(strategy.strategy_class, market, RunConfig(**settings))
    folder = scratch / case.name.replace("|", "_").replace("=", "-").replace(",", "_")
    write_run_folder(result, folder, {})
    hashes = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in HASHED_FILES
    }
    accepted = accepted_orders((folder / "orders.csv").read_text(encoding="utf-8"))
    hashes[ACCEPTED_VIEW] = hashlib.sha256(accepted.encode()).hexdigest()
    hashes["denied"] = str(denied_count((folder / "orders.csv").read_text(encoding="utf-8")))
    return hashes


def accepted_orders(orders_csv: str) -> str:
    """orders.csv without its denied rows, the ids renumbered 1, 2, ... in their order."""
    rows = list(csv.reader(io.StringIO(orders_csv)))
    header, body = rows[0], rows[1:]
    status = header.index("status")
    kept = [row for row in body if row[status] != "denied"]
    for number, row in enumerate(kept, start=1):
        row[0] = str(number)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(kept)
    return out.getvalue()


def denied_count(orders_csv: str) -> int:
    rows = list(csv.reader(io.StringIO(orders_csv)))
    status = rows[0].index("status")
    return sum(1 for row in rows[1:] if row[status] == "denied")


def golden_hashes(code_root: Path) -> dict[str, dict[str, str]]:
    examples_dir = code_root / "strategies_examples"
    with tempfile.TemporaryDirectory(prefix="golden-") as scratch:
        return {
            case.name: run_case(case, examples_dir, Path(scratch)) for case in cases(examples_dir)
        }


def differences(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> tuple[list[str], list[str]]:
    """(differences, notes): a line per case or file whose hash differs or that only one side
    has; a note per case whose orders.csv differs only by the denied requests it now lists."""
    lines = [f"only before: {name}" for name in sorted(before.keys() - after.keys())]
    lines += [f"only after: {name}" for name in sorted(after.keys() - before.keys())]
    notes = []
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        for file in HASHED_FILES:
            if old.get(file) == new.get(file):
                continue
            if file == "orders.csv" and old.get(ACCEPTED_VIEW) == new.get(ACCEPTED_VIEW):
                notes.append(
                    f"same orders: {name} orders.csv now also lists "
                    f"{new.get('denied')} denied request(s)"
                )
            else:
                lines.append(f"differs: {name} {file}")
    return lines, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose code runs")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", type=Path, help="save the hashes to this JSON file")
    action.add_argument("--against", type=Path, help="compare with hashes saved by --write")
    args = parser.parse_args(argv)
    code_root = args.root.resolve()
    sys.path.insert(0, str(code_root))
    hashes = golden_hashes(code_root)
    if args.write is not None:
        args.write.write_text(json.dumps(hashes, indent=2, sort_keys=True) + "\n")
        print(f"{len(hashes)} cases, {len(HASHED_FILES)} files each, written to {args.write}")
        return 0
    if args.against is None:
        print(json.dumps(hashes, indent=2, sort_keys=True))
        return 0
    problems, notes = differences(json.loads(args.against.read_text()), hashes)
    for line in [*notes, *problems]:
        print(line)
    files = len(hashes) * len(HASHED_FILES)
    verdict = "DIFFERENT" if problems else "identical" + (" (see notes)" if notes else "")
    print(f"{len(hashes)} cases, {files} files: {verdict}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
