"""Binance public-data files (data.binance.vision): klines and funding rates, CSV or zip."""

from __future__ import annotations

import hashlib
import io
import logging
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.data.errors import DataFileError
from app.data.importers import parse_numbers, parse_ohlcv_columns, parse_times
from app.deferred_imports import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

# Column order of every kline file Binance publishes (spot and futures, 1s to 1mo).
KLINE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
FUNDING_COLUMNS: tuple[str, ...] = ("calc_time", "funding_interval_hours", "last_funding_rate")
FUNDING_FRAME_COLUMNS: tuple[str, ...] = ("time", "funding_rate", "funding_interval_hours")
_KLINE_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]+)-(?P<timeframe>[0-9]+(?:s|m|h|d|w|mo|M))-"
    r"(?P<period>[0-9]{4}-[0-9]{2}(?:-[0-9]{2})?)\.(?:zip|csv)$"
)
_FUNDING_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]+)-fundingRate-(?P<period>[0-9]{4}-[0-9]{2})\.(?:zip|csv)$"
)


@dataclass(frozen=True, slots=True)
class BinanceFileName:
    """What a Binance file name says: symbol, kind (klines or funding), timeframe, period."""

    symbol: str
    kind: str
    timeframe: str | None
    period: str


def parse_binance_name(path: Path) -> BinanceFileName | None:
    """Recognise Binance names, or None.

    Examples: `BTCUSDT-1m-2024-01.zip` (monthly), `BTCUSDT-1m-2024-01-15.csv` (daily),
    `BTCUSDT-fundingRate-2024-01.zip` (funding rates).
    """
    kline = _KLINE_NAME.match(path.name)
    if kline:
        timeframe = kline["timeframe"].replace("mo", "M")  # Binance spells months `1mo`.
        return BinanceFileName(kline["symbol"], "klines", timeframe, kline["period"])
    funding = _FUNDING_NAME.match(path.name)
    if funding:
        return BinanceFileName(funding["symbol"], "funding", None, funding["period"])
    return None


def read_binance_klines(paths: Sequence[Path]) -> pd.DataFrame:
    """Read Binance kline files (CSV or zip, with or without header, epoch ms or µs).

    Returns bars of all files in the order given, `time` (the kline open time, UTC) as a
    column and float64 open, high, low, close, volume; quote volume and trade counts are not
    kept. A `.CHECKSUM` file next to a download is verified when present.
    """
    frames = [_klines_from_csv(raw, label) for path in paths for label, raw in _csv_members(path)]
    return pd.concat(frames, ignore_index=True)


def read_binance_funding(paths: Sequence[Path]) -> pd.DataFrame:
    """Read Binance funding-rate files into columns time, funding_rate, funding_interval_hours."""
    frames = [_funding_from_csv(raw, label) for path in paths for label, raw in _csv_members(path)]
    return pd.concat(frames, ignore_index=True)


def _csv_members(path: Path) -> Iterator[tuple[Path, bytes]]:
    if not path.exists():
        raise DataFileError(f"{path} does not exist; check the path.", path=path)
    content = path.read_bytes()
    verify_checksum(path, content)
    if not path.name.lower().endswith(".zip"):
        yield path, content
        return
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
            if not members:
                raise DataFileError(f"{path} holds no CSV file; check the download.", path=path)
            for name in members:
                yield path / name, archive.read(name)
    except zipfile.BadZipFile as exc:
        message = f"{path} is not a valid zip file; it may be truncated, download it again."
        raise DataFileError(message, path=path) from exc


def verify_checksum(path: Path, content: bytes) -> None:
    """Compare a download with the `<name>.CHECKSUM` file Binance publishes beside it, if any."""
    checksum_file = path.with_name(path.name + ".CHECKSUM")
    if not checksum_file.exists():
        return
    expected = checksum_file.read_text(encoding="utf-8").split()[0].lower()
    if hashlib.sha256(content).hexdigest() != expected:
        message = f"{path} does not match its {checksum_file.name}; download it again."
        raise DataFileError(message, path=path)


def _read_rows(raw: bytes, label: Path, columns: Sequence[str]) -> pd.DataFrame:
    text = raw.decode("utf-8", errors="replace")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    if not first_line.strip():
        raise DataFileError(f"{label} is empty; it has no rows.", path=label)
    has_header = not first_line.split(",")[0].strip().lstrip("-").isdigit()
    try:
        frame = pd.read_csv(io.StringIO(text), header=None, skiprows=1 if has_header else 0)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(f"{label} has a header but no rows.", path=label) from exc
    except pd.errors.ParserError as exc:
        message = f"{label} is not a well-formed CSV file; check the download."
        raise DataFileError(message, path=label) from exc
    if frame.shape[1] != len(columns):
        message = (
            f"{label} has {frame.shape[1]} columns where a Binance file has {len(columns)} "
            f"({', '.join(columns)}); is it the right kind of file?"
        )
        raise DataFileError(message, path=label)
    frame.columns = pd.Index(columns)
    return frame


def _klines_from_csv(raw: bytes, label: Path) -> pd.DataFrame:
    table = _read_rows(raw, label, KLINE_COLUMNS)
    return parse_ohlcv_columns(table, path=label, column_map={"open_time": "time"})


def _funding_from_csv(raw: bytes, label: Path) -> pd.DataFrame:
    table = _read_rows(raw, label, FUNDING_COLUMNS)
    return pd.DataFrame(
        {
            "time": parse_times(table["calc_time"], path=label),
            "funding_rate": parse_numbers(
                table["last_funding_rate"], path=label, column="last_funding_rate"
            ),
            "funding_interval_hours": parse_numbers(
                table["funding_interval_hours"], path=label, column="funding_interval_hours"
            ),
        }
    )
