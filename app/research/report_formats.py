"""The formats a report is written in (html, md, json, xlsx) and the one dispatch from a
format to its renderer, file suffix and media type, shared by the CLI and the API."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.research.report import Report


class ReportFormat(StrEnum):
    """A report's file format."""

    HTML = "html"
    MARKDOWN = "md"
    JSON = "json"
    XLSX = "xlsx"

    @property
    def suffix(self) -> str:
        """The file suffix, with its dot."""
        return f".{self.value}"

    @property
    def media_type(self) -> str:
        """The HTTP Content-Type of the format."""
        return MEDIA_TYPES[self]

    @classmethod
    def from_suffix(cls, suffix: str) -> ReportFormat | None:
        """The format a file name's suffix names (`.htm` counts as html), or None."""
        text = suffix.lower().lstrip(".")
        text = {"htm": "html", "markdown": "md"}.get(text, text)
        return next((member for member in cls if member.value == text), None)


MEDIA_TYPES = {
    ReportFormat.HTML: "text/html; charset=utf-8",
    ReportFormat.MARKDOWN: "text/markdown; charset=utf-8",
    ReportFormat.JSON: "application/json",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render_report(report: Report, report_format: ReportFormat) -> bytes:
    """The report's file content in `report_format` (text formats as UTF-8)."""
    if report_format is ReportFormat.XLSX:
        from app.research.report_xlsx import render_xlsx  # openpyxl: only when asked

        return render_xlsx(report)
    if report_format is ReportFormat.HTML:
        from app.research.report_html import render_html

        text = render_html(report)
    else:
        from app.research.report_document import render_json, render_markdown

        text = (
            render_json(report) if report_format is ReportFormat.JSON else render_markdown(report)
        )
    return text.encode("utf-8", errors="replace")
