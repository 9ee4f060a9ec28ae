"""Writes kline and funding-rate files exactly as data.binance.vision publishes them."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

# Header of futures (UM) kline files since 2022; spot files have no header row.
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
FUNDING_HEADER = "calc_time,funding_interval_hours,last_funding_rate"


def kline_csv(
    frame: pd.DataFrame, *, step: str = "1m", microseconds: bool = False, header: bool = False
) -> str:
    """Kline rows as Binance writes them: open/close time in ms (µs for spot since 2025)."""
    unit = 1_000 if microseconds else 1_000_000
    open_time = pd.DatetimeIndex(frame.index).asi8 // unit
    close_time = open_time + pd.Timedelta(step).value // unit - 1
    lines = [KLINE_HEADER] if header else []
    for row, (o, h, low, c, v) in enumerate(
        frame[["open", "high", "low", "close", "volume"]].to_numpy()
    ):
        quote = v * c
        lines.append(
            f"{open_time[row]},{o:.8f},{h:.8f},{low:.8f},{c:.8f},{v:.8f},{close_time[row]},"
            f"{quote:.8f},{100 + row},{v / 2:.8f},{quote / 2:.8f},0"
        )
    return "\n".join(lines) + "\n"


def write_kline_zip(
    folder: Path,
    frame: pd.DataFrame,
    *,
    symbol: str = "BTCUSDT",
    timeframe: str = "1m",
    period: str,
    microseconds: bool = False,
    header: bool = False,
    checksum: bool = False,
) -> Path:
    """`<symbol>-<tf>-<period>.zip` holding one CSV of the same name, optionally with .CHECKSUM."""
    name = f"{symbol}-{timeframe}-{period}"
    path = folder / f"{name}.zip"
    content = kline_csv(
        frame, step=timeframe.replace("m", "min"), microseconds=microseconds, header=header
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", content)
    if checksum:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".CHECKSUM").write_text(f"{digest}  {path.name}\n")
    return path


def write_funding_zip(
    folder: Path, *, symbol: str = "BTCUSDT", period: str = "2024-01"
) -> tuple[Path, pd.DataFrame]:
    """A monthly funding-rate zip (8-hourly rates) and the rates it holds."""
    start = pd.Timestamp(f"{period}-01", tz="UTC")
    times = pd.date_range(start, periods=9, freq="8h").as_unit("ns")
    rates = np.round(np.linspace(-0.0002, 0.0003, len(times)), 8)
    lines = [FUNDING_HEADER]
    lines += [f"{t.value // 1_000_000},8,{r:.8f}" for t, r in zip(times, rates, strict=True)]
    name = f"{symbol}-fundingRate-{period}"
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.csv", "\n".join(lines) + "\n")
    return path, pd.DataFrame({"funding_rate": rates}, index=pd.DatetimeIndex(times, name="time"))
