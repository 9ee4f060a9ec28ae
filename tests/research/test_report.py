"""`strategylab report`: the figures of every format equal the run's files (metrics.json,
equity.csv), hostile run text stays text, the xlsx opens with its sheets, research sections
are shown when present, and bad input gets one sentence and exit 2."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv
from app.data.catalog import DatasetCatalog
from app.engine.metrics import daily_returns
from app.research.equity_analysis import drawdown_periods
from app.research.report_charts import thin
from app.research.report_document import display, md_cell
from app.research.report_sources import ReportRequest, load_report
from app.research.report_xlsx import SHEETS
from tests.research.report_support import HOSTILE, make_run

INPUTS = Path(__file__).resolve().parent / "report_inputs"
HOUR_NS = 3_600_000_000_000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The hostile strategy's run folder and its data file."""
    return make_run(tmp_path_factory.mktemp("report"))


def report(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["report", *(str(a) for a in args)])
    return result.exit_code, result.output


def written(run: tuple[Path, Path], out: Path, *extra: str | Path) -> Path:
    run_dir, data = run
    code, output = report(run_dir, "--data", data, "--out", out, *extra)
    assert code == 0, output
    return out


def metrics_of(run_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run_dir / "metrics.json").read_text())
    return document


def test_json_metrics_are_metrics_json_exactly(run: tuple[Path, Path], tmp_path: Path) -> None:
    document = json.loads(written(run, tmp_path / "r.json").read_text())
    expected = metrics_of(run[0])
    assert document["metrics"] == expected["metrics"]
    assert list(document["metrics"]) == list(expected["metrics"])  # the file's order
    assert document["conventions"] == expected["conventions"]
    assert "D = 365" in document["metric_conventions"]["sharpe"]
    assert document["costs"]["fees_paid"] == expected["metrics"]["fees_paid"]
    assert document["costs"]["liquidations"] == expected["metrics"]["liquidations"] > 0
    trades = pd.read_csv(run[0] / "trades.csv")
    assert len(document["trades"]) == len(trades) == expected["metrics"]["trades"]
    assert [t["pnl"] for t in document["trades"]] == trades["pnl"].tolist()


def test_html_shows_each_metric_as_metrics_json_holds_it(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    page = written(run, tmp_path / "r.html").read_text()
    figures = metrics_of(run[0])["metrics"]
    fractions = {"total_return", "max_drawdown", "cagr", "win_rate", "exposure", "volatility"}
    for name in ("sharpe", "sortino", "max_drawdown", "total_return", "trades", "fees_paid"):
        match = re.search(
            rf'<tr data-metric="{name}"><td>[^<]*</td><td class="num">([^<]*)</td>', page
        )
        assert match, name
        assert match.group(1) == display(figures[name], is_fraction=name in fractions), name
    assert f"{figures['sharpe']:.6g}" in page  # e.g. -1.63675
    assert f"{figures['max_drawdown'] * 100:,.2f} %" in page


def test_monthly_and_yearly_returns_equal_those_from_equity_csv(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    document = json.loads(written(run, tmp_path / "r.json").read_text())
    equity = pd.read_csv(run[0] / "equity.csv", parse_dates=["time"]).set_index("time")["equity"]
    initial = metrics_of(run[0])["metrics"]["initial_equity"]
    stamps = pd.DatetimeIndex(equity.index)
    month_ends = equity.groupby([stamps.year, stamps.month]).last()
    expected = month_ends / month_ends.shift(1, fill_value=initial) - 1
    got = {(m["year"], m["month"]): m["return"] for m in document["monthly_returns"]}
    assert len(got) == 7  # January to July 2023
    assert got == pytest.approx(expected.to_dict(), rel=1e-12, abs=1e-15)
    compounded = math.prod(1 + value for value in got.values()) - 1
    total_return = metrics_of(run[0])["metrics"]["total_return"]
    assert compounded == pytest.approx(total_return, rel=1e-9)
    assert document["yearly_returns"] == [{"year": 2023, "return": pytest.approx(total_return)}]


def test_top_drawdowns_start_with_max_drawdown_and_say_when_not_recovered(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    document = json.loads(written(run, tmp_path / "r.json").read_text())
    page = written(run, tmp_path / "r.html").read_text()
    periods = document["drawdowns"]
    metrics = metrics_of(run[0])["metrics"]
    assert 1 <= len(periods) <= 5
    assert periods[0]["depth"] == metrics["max_drawdown"]
    assert [p["depth"] for p in periods] == sorted(p["depth"] for p in periods)
    for period in periods:
        assert period["peak"] <= period["trough"]
        assert period["recovery"] is None or period["recovery"] > period["trough"]
    if any(p["recovery"] is None for p in periods):
        assert "not recovered" in page
    longest = max(p["days"] for p in periods)
    assert longest <= metrics["max_drawdown_days"]


def test_drawdown_periods_worked_example() -> None:
    # initial 100; equity 100, 90, 95, 101, 80, 85 (hourly bars from t0).
    # Fall 1: peak 100 at bar 0, trough 90 at bar 1 (-10 %), back to >= 100 at bar 3;
    #   3 hours on the close clock (bar 0's close to bar 3's close) = 0.125 days.
    # Fall 2: peak 101 at bar 3, trough 80 at bar 4 (80 / 101 - 1), never recovered;
    #   bar 3's close to bar 5's close = 2 hours.
    t0 = 1_700_000_000_000_000_000 // HOUR_NS * HOUR_NS
    times = np.array([t0 + i * HOUR_NS for i in range(6)], dtype=np.int64)
    equity = np.array([100.0, 90.0, 95.0, 101.0, 80.0, 85.0])
    deepest, second = drawdown_periods(100.0, times, equity)
    assert deepest.depth == pytest.approx(80 / 101 - 1)
    assert (deepest.peak_time, deepest.trough_time, deepest.recovery_time) == (
        times[3],
        times[4],
        None,
    )
    assert deepest.days == pytest.approx(2 / 24)
    assert second.depth == pytest.approx(-0.1)
    assert (second.peak_time, second.trough_time, second.recovery_time) == (
        times[0],
        times[1],
        times[3],
    )
    assert second.days == pytest.approx(3 / 24)


def test_daily_and_rolling_figures_follow_the_engine_convention(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    document = json.loads(written(run, tmp_path / "r.json").read_text())
    equity = pd.read_csv(run[0] / "equity.csv")
    stamps = pd.to_datetime(equity["time"], utc=True).dt.as_unit("ns")
    times = np.asarray(stamps.astype("int64"), dtype=np.int64)
    returns = daily_returns(times, equity["equity"].to_numpy())
    assert document["daily_returns"]["count"] == len(returns) == 209
    assert document["daily_returns"]["mean"] == pytest.approx(float(np.mean(returns)))
    rolling = document["rolling"]
    assert rolling["window_days"] == 90
    assert len(rolling["sharpe"]) == len(returns) - 90 + 1
    last = returns[-90:]
    expected_sharpe = np.mean(last) / np.std(last, ddof=1) * math.sqrt(365)
    assert rolling["sharpe"][-1] == pytest.approx(expected_sharpe, rel=1e-9)
    assert rolling["volatility"][-1] == pytest.approx(np.std(last, ddof=1) * math.sqrt(365))
    trade_return = document["trades"][0]["pnl"] / (
        document["trades"][0]["size"] * document["trades"][0]["entry_price"]
    )
    assert document["trades"][0]["return"] == pytest.approx(trade_return)


def test_buy_and_hold_curve_ends_at_the_buy_and_hold_return(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    document = json.loads(written(run, tmp_path / "r.json").read_text())
    expected = metrics_of(run[0])["metrics"]["buy_and_hold_return"]
    assert document["buy_and_hold"]["return"] == pytest.approx(expected, rel=1e-12)
    assert document["buy_and_hold"]["source"] == "buy and hold from hourly.csv"


def test_without_the_data_the_report_says_why_there_is_no_buy_and_hold(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    built = load_report(ReportRequest(run[0], catalog=DatasetCatalog(tmp_path)))
    assert built.buy_and_hold is None
    assert "--data FILE" in built.buy_and_hold_note


def test_data_the_run_did_not_use_is_refused(run: tuple[Path, Path], tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    generate_ohlcv(bars=500, timeframe="1h", seed=99).to_csv(other)
    code, output = report(run[0], "--data", other, "--out", tmp_path / "r.html")
    assert code == 2
    assert output.count("\n") == 1 and "--data" in output and "content hash" in output
    assert not (tmp_path / "r.html").exists()


def hostile_copy(run_dir: Path, tmp_path: Path, name: str) -> Path:
    """The run folder with its strategy's class name replaced by `name` in provenance.json."""
    copy = tmp_path / "hostile-run"
    shutil.copytree(run_dir, copy)
    provenance = json.loads((copy / "provenance.json").read_text())
    provenance["strategy"]["class"] = name
    (copy / "provenance.json").write_text(json.dumps(provenance))
    return copy


def test_hostile_strategy_text_stays_text_in_html_and_markdown(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    copy = hostile_copy(run[0], tmp_path, HOSTILE)
    page = written((copy, run[1]), tmp_path / "r.html").read_text()
    assert "<script" not in page.lower()
    assert page.count("<svg") == page.count("</svg>") == 7  # the run part's charts
    assert "&lt;/svg&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # an entity in run text is shown, not decoded
    assert page.count("<img") == 0
    markdown = written((copy, run[1]), tmp_path / "r.md").read_text()
    assert "<script" not in markdown.lower() and "<img" not in markdown
    assert "&lt;/svg&gt;&lt;script&gt;" in markdown
    document = json.loads(written((copy, run[1]), tmp_path / "r.json").read_text())
    assert document["strategy"] == HOSTILE and document["params"]["label"] == HOSTILE
    assert any(HOSTILE in line for line in document["log"]["lines"])  # the strategy's log line


def test_xlsx_opens_with_every_sheet_and_the_figures(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://evil.example","x")'
    copy = hostile_copy(run[0], tmp_path, formula)
    book = load_workbook(written((copy, run[1]), tmp_path / "r.xlsx"))
    assert list(book.sheetnames) == list(SHEETS)
    figures = metrics_of(run[0])["metrics"]
    metrics = {row[1]: row[2] for row in book["Metrics"].iter_rows(min_row=2, values_only=True)}
    assert list(metrics) == list(figures)
    for name, value in figures.items():  # openpyxl writes floats with 16 significant digits
        expected = pytest.approx(value, rel=1e-15) if isinstance(value, float) else value
        assert metrics[name] == expected, name
    assert book["Metrics"]["C2"].value == figures["start"]
    trades = list(book["Trades"].iter_rows(min_row=2, values_only=True))
    assert len(trades) == figures["trades"]
    months = list(book["Monthly returns"].iter_rows(min_row=2, values_only=True))
    assert months[0][0] == 2023 and len([v for v in months[0][1:] if v is not None]) == 7
    title = book["Summary"]["B2"]
    assert title.value.startswith(formula) and title.data_type == "s"  # never a formula


def test_markdown_has_every_part(run: tuple[Path, Path], tmp_path: Path) -> None:
    markdown = written(run, tmp_path / "r.md").read_text()
    for heading in (
        "## Settings",
        "## Provenance",
        "## Metrics",
        "## Top drawdowns",
        "## Monthly returns",
        "## Rolling Sharpe and volatility (90-day window)",
        "## Distributions",
        "## Fees, funding and liquidations",
        "## Trades (",
        "## Log (",
    ):
        assert heading in markdown
    figures = metrics_of(run[0])["metrics"]
    assert f"| Sharpe | {display(figures['sharpe'])} |" in markdown


def walkforward_folder(tmp_path: Path) -> Path:
    """A walk-forward's folds.csv and walkforward.json, as `strategylab walkforward` writes."""
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "folds.csv").write_text(
        "fold,status,train_start,train_end,test_start,test_end,trials,param_fast,"
        "train_sharpe,test_sharpe,efficiency\n"
        "0,done,2023-01-01T00:00:00Z,2023-03-01T00:00:00Z,2023-03-01T00:00:00Z,"
        "2023-04-01T00:00:00Z,6,8,1.2,0.4,0.35\n"
        "1,done,2023-02-01T00:00:00Z,2023-04-01T00:00:00Z,2023-04-01T00:00:00Z,"
        "2023-05-01T00:00:00Z,6,4,0.9,-0.2,-0.1\n"
    )
    summary = {
        "efficiency": {"overall": 0.21, "per_fold": [0.35, -0.1], "definition": "OOS / IS"},
        "acceptance": {"passed": None},
        "folds": [{"fold": 0}, {"fold": 1}],
    }
    (folder / "walkforward.json").write_text(json.dumps(summary))
    return folder


def test_sweep_walkforward_and_monte_carlo_sections(run: tuple[Path, Path], tmp_path: Path) -> None:
    from app.research.montecarlo import MonteCarloSpec
    from app.research.montecarlo_document import run_montecarlo, write_montecarlo

    montecarlo = write_montecarlo(
        run_montecarlo(run[0], MonteCarloSpec(method="shuffle", simulations=200, seed=3)),
        tmp_path / "mc",
    )
    args: tuple[str | Path, ...] = ("--sweep", INPUTS / "sweep", "--montecarlo", montecarlo)
    args += ("--walkforward", walkforward_folder(tmp_path))
    document = json.loads(written(run, tmp_path / "r.json", *args).read_text())
    kinds = [section["kind"] for section in document["sections"]]
    assert kinds == ["sweep", "walkforward", "montecarlo"]
    sweep, walkforward, simulated = document["sections"]
    best = json.loads((INPUTS / "sweep" / "best.json").read_text())
    assert sweep["overfitting"]["dsr"] == best["overfitting"]["dsr"]
    assert sweep["overfitting"]["pbo"] == best["overfitting"]["pbo"]
    assert sweep["meaning"] == best["overfitting"]["meaning"]
    trials = sweep["tables"][0]
    assert trials["title"] == "best 6 of 6 trials by sharpe"
    sharpes = [row[trials["columns"].index("sharpe")] for row in trials["rows"]]
    assert sharpes == sorted(sharpes, reverse=True) and sharpes[0] == best["best"]["values"][0]
    assert walkforward["summary"]["efficiency.overall"] == 0.21
    assert (
        walkforward["tables"][0]["title"] == "folds" and len(walkforward["tables"][0]["rows"]) == 2
    )
    assert simulated["summary"]["method"] == "shuffle"
    intervals = simulated["tables"][0]
    assert intervals["columns"][:4] == ["figure", "observed", "median", "mean"]
    page = written(run, tmp_path / "r.html", *args).read_text()
    assert 'data-chart="montecarlo_2_fan"' in page and 'class="band"' in page
    assert 'data-chart="sweep_0_histogram"' in page
    assert best["overfitting"]["meaning"].replace("%", "") in page.replace("%", "")


def test_sections_found_beside_the_run_are_shown(run: tuple[Path, Path], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    shutil.copytree(INPUTS / "sweep", sweep)
    shutil.copytree(run[0], sweep / "best" / "1")
    (sweep / "best" / "1" / "montecarlo.json").write_text("{not json")
    code, output = report(sweep / "best" / "1", "--format", "json", "--data", run[1])
    assert code == 0, output
    document = json.loads((sweep / "best" / "1" / "report.json").read_text())
    assert [s["kind"] for s in document["sections"]] == ["sweep", "montecarlo"]
    assert document["sections"][0]["source"] == str(sweep)
    assert "cannot be read as JSON" in document["sections"][1]["notes"][0]


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("none", (), "RUN_DIR: "),
        ("empty", (), "metrics.json is missing"),
        ("garbage", (), "metrics.json is not valid JSON"),
        ("sweep", (), "is a sweep's folder, not a run's; report its best run"),
        ("run", ("--sweep", "missing-folder"), "--sweep: "),
        ("run", ("--montecarlo", "bad.json"), "--montecarlo: "),
        ("run", ("--out", "no/such/folder/r.html"), "--out: "),
        ("run", ("--format", "pdf"), "pdf"),
    ],
)
def test_bad_input_gets_one_sentence_and_exit_2(
    run: tuple[Path, Path], tmp_path: Path, setup: str, args: tuple[str, ...], expected: str
) -> None:
    folder = tmp_path / "folder"
    if setup == "empty":
        folder.mkdir()
    elif setup == "garbage":
        shutil.copytree(run[0], folder)
        (folder / "metrics.json").write_text("{")
    elif setup == "sweep":
        shutil.copytree(INPUTS / "sweep", folder)
    elif setup == "run":
        folder = run[0]
    (tmp_path / "bad.json").write_text("[1, 2")
    resolved = [str(tmp_path / a) if a.endswith((".json", "folder", ".html")) else a for a in args]
    code, output = report(folder, *resolved)
    assert code == 2, output
    assert expected in output
    assert "Traceback" not in output
    if setup != "run" or args[0] != "--format":  # typer's own usage message for a bad choice
        assert output.count("\n") == 1, output


def test_a_one_bar_run_without_trades_still_gets_every_part(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "one-bar"
    shutil.copytree(run[0], folder)
    equity_lines = (folder / "equity.csv").read_text().splitlines()
    (folder / "equity.csv").write_text("\n".join(equity_lines[:2]) + "\n")
    trades_header = (folder / "trades.csv").read_text().splitlines()[0]
    (folder / "trades.csv").write_text(trades_header + "\n")
    for suffix in ("html", "md", "json", "xlsx"):
        code, output = report(folder, "--out", tmp_path / f"r.{suffix}")
        assert code == 0, output
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 7 and "no full window yet" in page and "no trades" in page
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["drawdowns"] == [] and document["trades"] == []
    assert document["monthly_returns"] == [{"year": 2023, "month": 1, "return": 0.0}]


def test_the_report_file_gets_the_usual_permissions(run: tuple[Path, Path], tmp_path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    out = written(run, tmp_path / "r.md")
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]  # no temporary file left


def test_thinning_a_long_series_keeps_its_extremes() -> None:
    x = np.arange(100_000, dtype=np.int64)
    y = np.sin(x / 5_000.0)
    y[12_345], y[67_890] = -50.0, 50.0  # a crash and a spike between buckets' edges
    kept = thin(x, y)
    assert len(kept) <= 1_500 and kept[0] == 0 and kept[-1] == 99_999
    assert 12_345 in kept and 67_890 in kept
    assert kept == sorted(set(kept))


def test_markdown_cells_show_run_text_as_it_is() -> None:
    text = "[click](javascript:alert(1)) *bold* `code` a|b <b>x</b>\nnext"
    assert md_cell(text) == (
        "\\[click\\](javascript:alert(1)) \\*bold\\* \\`code\\` a\\|b &lt;b&gt;x&lt;/b&gt; next"
    )
    assert md_cell(-0.125, is_fraction=True) == "-12.50 %"
