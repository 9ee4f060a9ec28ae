"""Several symbols in one account left every one-symbol run as it was: each existing example's
trades.csv, orders.csv and equity.csv are byte-identical to those written before the feature
(sha256 taken with the code of commit 0b8e348, on 1,500 synthetic hours, seed 11, each example's
run_settings.json market, cash 10,000 and a 0.05 % taker fee)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.data import generate_ohlcv
from app.engine import MarketData, Mode, RunConfig
from app.runs.folder import write_run_folder
from sandbox import ForkServer, run_sandboxed, start_worker
from tests.examples.conftest import EXAMPLES_DIR

BEFORE: dict[str, tuple[str, str, str]] = {
    "breakout_sl_tp": (
        "7866a72d44e97ed7a12c2818fd72bee3ce647594dfc87f84ccefb9e47d224af7",
        "51181208d6175a1bc4a680bf27046ac20fcf08df26ffa997469da7e0c90deb66",
        "248b9bd9a96008bcabc7a5d53014bee26ad559eaba056966e32676409228f903",
    ),
    "buy_and_hold": (
        "a23ce051042a8403e5f8dbca70ba26cecd23f94fcf909606ae3b5339e40212fe",
        "8dd2829d0d7754188c8eea19b7002350d5985dcc1471fb45832093310a57389f",
        "4797ad7a88fba72efbea9e3963216c2fabda95c1941dc9092ae06c3f53985132",
    ),
    "high_leverage_liquidation": (
        "627d62ed3de54a62f8f4e5c447a82068c2cf81af03b2934034cfefed08e13245",
        "e2206cafde8d567548d3d15738243133c3834489ec1f681653dc03a93d0bdd1e",
        "31e72ad6628b278a7a103365097f9622cf1c631d1c592e0d46ad5a351dd763b7",
    ),
    "never_trades": (
        "22b91dfb1a735ddb0fd0e16722429c95b41fc6746851459f3fd7224277eea097",
        "bbc0e09d4834b6ad72ba9e9113125e6363cdc76a9c446b648fd8ee638ac364c0",
        "4e5a601a7a9ab912d1ca5eeaac859f5663d39f7b62352107b9a04a06f1c1e980",
    ),
    "rsi_mean_reversion": (
        "04d31ded501ed874264318fddfdb37449e12058a331f45eb3835d1e49f629206",
        "9c613809a4833867cba7feee864f8d059371a4554c50f02b28b41a6e90c6765e",
        "52316574c6f377f577c76e2eb29a301651210e59272025baaac3e4f8f5a43800",
    ),
    "sma_crossover": (
        "30d4f49f0ed35fb3083b5627bc8e3fa2cf5c24cb6c41573fdb79ba0ccd133ed4",
        "6dee96b4ef16e954fd24703eda5c3ab573826cd53c3f266f6ac2f502c09c2410",
        "68d0399ad36ef366147abec7a29c88c50bf7292542c3ab79b7eb9f9f6de56582",
    ),
    "trailing_stop": (
        "ebd03a262d63eb8949bdac922f65c30150d0a125b4e3f5a4c58e95476f1b1b7d",
        "c66629e4c8bbc46225c6f480964100145f7e0eae5b3a779408fdf33b0087796f",
        "6aab83b53037b3d0bd84e0874ccfd5738c1620d3c23479f56d6e4ceb5f84e853",
    ),
    "trend_pullback": (
        "0853babd5f0218ba11da7dba3be3de3fed21bb0285a75f711c1f96f4239525e8",
        "99bd877d376b41163430b039f097e513dcbfb2b3b8c60c1703978e073f216554",
        "4960e1dcba6be8585f84e1f446e7a055f973c8315977f946fdbd347a28292dcd",
    ),
}
"""(trades.csv, orders.csv, equity.csv) sha256 per example, before several symbols."""


@pytest.mark.slow
def test_one_symbol_examples_write_the_same_bytes_as_before(
    tmp_path: Path, fork_server: ForkServer
) -> None:
    market = MarketData.from_frame(generate_ohlcv(bars=1_500, timeframe="1h", seed=11))
    settings = json.loads((EXAMPLES_DIR / "run_settings.json").read_text())
    changed = []
    for name, expected in BEFORE.items():
        options = dict(settings[name])
        options["mode"] = Mode(options["mode"])
        config = RunConfig(cash=10_000.0, fee_taker=0.0005, **options)
        source = (EXAMPLES_DIR / f"{name}.py").read_text()
        result = run_sandboxed(source, market, config, worker=start_worker(fork_server))
        folder = tmp_path / name
        write_run_folder(result, folder, {})
        files = ("trades.csv", "orders.csv", "equity.csv")
        got = tuple(hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in files)
        changed += [f"{name}/{f}" for f, a, b in zip(files, got, expected, strict=True) if a != b]
    assert changed == []


def test_every_one_symbol_example_is_held_to_its_bytes() -> None:
    several = {"relative_strength"}  # needs a second symbol
    assert {path.stem for path in EXAMPLES_DIR.glob("*.py")} - several == set(BEFORE)
