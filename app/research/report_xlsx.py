"""A report as an Excel workbook (openpyxl), one sheet per part, the same figures as the
JSON document: numbers stay numbers (fractions with a percent format), times are ISO text.

Run text (a strategy name, a param, a log line) is always stored as a string cell: openpyxl
would store text starting with `=` as a formula, which a spreadsheet evaluates (formula
injection, OWASP), so every text cell's type is forced to string after it is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from app.research.report import Report
from app.research.report_charts import MONTHS
from app.research.report_document import report_document, trade_rows
from app.research.report_sections import flatten

PERCENT_FORMAT = "0.00%"
MAX_CELL_CHARS = 32_767  # Excel's limit per cell
SHEETS = (
    "Summary",
    "Metrics",
    "Drawdowns",
    "Monthly returns",
    "Yearly returns",
    "Rolling",
    "Equity (day ends)",
    "Trades",
    "Costs",
    "Distributions",
    "Log",
)


def safe_cell(value: Any) -> Any:
    """A value for a cell: numbers and None as they are, anything else as text (cut at
    Excel's cell limit)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_CELL_CHARS]


def _sheet(book: Workbook, title: str, header: Sequence[str]) -> Worksheet:
    sheet: Worksheet = book.create_sheet(title)
    _append(sheet, [header])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    return sheet


def _append(
    sheet: Worksheet, rows: Iterable[Sequence[Any]], percent_columns: Sequence[int] = ()
) -> None:
    percent = set(percent_columns)
    for row in rows:
        cells = []
        for column, value in enumerate(row):
            cell = Cell(sheet, value=safe_cell(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            if column in percent:
                cell.number_format = PERCENT_FORMAT
            cells.append(cell)
        sheet.append(cells)


def render_xlsx(report: Report) -> bytes:
    """The workbook's bytes: the sheets in SHEETS, then one per research section."""
    document = report_document(report)
    book = Workbook()
    book.remove(book.active)
    summary = _sheet(book, "Summary", ("name", "value"))
    _append(summary, [("title", report.title), ("run folder", report.run_dir)])
    _append(summary, (("setting." + k, _text(v)) for k, v in report.settings.items()))
    _append(summary, (("provenance." + k, _text(v)) for k, v in flatten(report.provenance)))
    _append(summary, (("buy and hold", report.buy_and_hold_note),))
    metrics = _sheet(book, "Metrics", ("metric", "name", "value", "convention"))
    for entry in report.metrics:
        _append(
            metrics,
            [(entry.label, entry.name, entry.value, entry.convention)],
            percent_columns=(2,) if entry.is_fraction else (),
        )
    drawdowns = _sheet(book, "Drawdowns", ("depth", "peak", "trough", "recovery", "days"))
    _append(
        drawdowns,
        (
            (d["depth"], d["peak"], d["trough"], d["recovery"] or "not recovered", d["days"])
            for d in document["drawdowns"]
        ),
        percent_columns=(0,),
    )
    monthly = _sheet(book, "Monthly returns", ("year", *MONTHS))
    cells = report.month_cells()
    years = sorted({m.year for m in report.monthly})
    _append(
        monthly,
        ([year, *(cells.get((year, month)) for month in range(1, 13))] for year in years),
        percent_columns=range(1, 13),
    )
    yearly = _sheet(book, "Yearly returns", ("year", "return"))
    _append(yearly, ((y.year, y.value) for y in report.yearly), percent_columns=(1,))
    rolling = document["rolling"]
    sheet = _sheet(book, "Rolling", ("time", f"sharpe ({rolling['window_days']}d)", "volatility"))
    _append(sheet, zip(rolling["time"], rolling["sharpe"], rolling["volatility"], strict=True))
    series = document["day_end_equity"]
    sheet = _sheet(book, "Equity (day ends)", tuple(series))
    _append(sheet, zip(*series.values(), strict=True))
    rows = trade_rows(report)
    header = tuple(rows[0]) if rows else ("entry_time",)
    sheet = _sheet(book, "Trades", header)
    _append(sheet, (tuple(row.values()) for row in rows), percent_columns=(8,) if rows else ())
    costs = _sheet(book, "Costs", ("name", "value"))
    _append(costs, ((k, v) for k, v in document["costs"].items() if k != "by_exit_reason"))
    _append(costs, [(), ("exit reason", "trades", "pnl", "fees")])
    _append(
        costs,
        (
            (s["reason"], s["trades"], s["pnl"], s["fees"])
            for s in document["costs"]["by_exit_reason"]
        ),
    )
    _distributions(book, document)
    log = _sheet(
        book, "Log", (f"log.txt ({report.log_total} lines, first {len(report.log_lines)})",)
    )
    _append(log, ((line,) for line in report.log_lines))
    for section in report.sections:
        sheet = _sheet(book, section.title[:31], ("name", "value"))
        _append(
            sheet, [("source", section.source), *((k, _text(v)) for k, v in section.overfitting)]
        )
        if section.meaning:
            _append(sheet, [("meaning", section.meaning)])
        _append(sheet, ((k, _text(v)) for k, v in section.summary))
        _append(sheet, (("note", note) for note in section.notes))
        for table in section.tables:
            _append(sheet, [(), (table.title,), table.columns])
            _append(sheet, table.rows)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _distributions(book: Workbook, document: dict[str, Any]) -> None:
    """Daily and per-trade returns: their statistics, then each histogram's bins."""
    sheet = _sheet(book, "Distributions", ("returns", "count", "mean", "std", "min", "max"))
    parts = (("daily", document["daily_returns"]), ("per trade", document["trade_returns"]))
    _append(
        sheet,
        (
            (name, *(part[key] for key in ("count", "mean", "std", "min", "max")))
            for name, part in parts
        ),
        percent_columns=(2, 3, 4, 5),
    )
    for name, part in parts:
        edges, counts = part["histogram"]["edges"], part["histogram"]["counts"]
        _append(sheet, [(), (f"{name} histogram", "from", "to", "count")])
        _append(
            sheet,
            (
                ("", low, high, count)
                for low, high, count in zip(edges, edges[1:], counts, strict=False)
            ),
            percent_columns=(1, 2),
        )


def _text(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)
