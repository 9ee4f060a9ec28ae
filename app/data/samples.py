"""Deterministic synthetic BTCUSDT-like OHLCV and the bundled sample datasets built from it."""

from __future__ import annotations

import itertools
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from app.data.parquet import write_ohlcv_parquet
from app.data.resample import OHLCV_COLUMNS, parse_timeframe, resample_ohlcv
from app.deferred_imports import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

SAMPLE_SYMBOL = "BTCUSDT"
SAMPLE_START = "2023-01-01"
SAMPLE_BARS_1M = 525_600  # 365 days x 1,440 minutes: calendar year 2023.
# The second symbol, for runs over several symbols: ETHUSDT-like hourly bars of 2023 from the
# same generator (hourly directly, not a resample of minutes, so the file stays small).
ETH_SAMPLE_SYMBOL = "ETHUSDT"
ETH_SAMPLE_BARS_1H = 8_760  # 365 days x 24 hours
ETH_SAMPLE_SEED = 23
ETH_SAMPLE_START_PRICE = 1_200.0

# Model constants, per one-minute bar unless stated. Daily volatility of about 3% (BTC-like).
_DAILY_VOLATILITY = 0.03
_GARCH_ALPHA = 0.06  # weight of the last squared shock (GARCH(1,1), Bollerslev 1986)
_GARCH_BETA = 0.93  # persistence of the conditional variance
_STUDENT_DF = 4.0  # degrees of freedom of the fat-tailed innovations
_WICK_SCALE = 0.5  # mean wick length beyond the body, in conditional standard deviations
_VOLUME_PER_MINUTE = 25.0  # base asset units traded in a quiet minute
_VOLUME_RETURN_WEIGHT = 0.8  # extra volume per conditional standard deviation of |return|
_PRICE_DECIMALS = 2  # USDT tick
_VOLUME_DECIMALS = 5


def generate_ohlcv(
    *,
    bars: int,
    timeframe: str = "1m",
    start: str = "2023-01-01",
    seed: int = 7,
    start_price: float = 30000.0,
) -> pd.DataFrame:
    """Generate `bars` synthetic bars of a BTCUSDT-like market, identical for identical inputs.

    Log returns follow a GARCH(1,1) with unit-variance Student-t(4) innovations (fat tails and
    volatility clustering), scaled to about 3% daily volatility whatever the timeframe. Each
    bar opens at the previous close; wicks extend beyond the body by exponential amounts
    proportional to the bar's conditional volatility; volume is log-normal noise scaled up with
    |return| / volatility. Prices are rounded to 0.01 and volume to 1e-5 while keeping
    high >= max(open, close) and low <= min(open, close). The result has the standard shape
    (UTC DatetimeIndex "time" of bar open times, float64 open, high, low, close, volume).
    """
    if bars < 0:
        raise ValueError("bars must be zero or more")
    step = parse_timeframe(timeframe).delta
    if step is None:
        raise ValueError("synthetic data needs a fixed-length timeframe such as 1m, 1h or 1d")
    minutes = step / pd.Timedelta(minutes=1)
    rng = np.random.default_rng(seed)
    innovations = _student_t(rng, bars)
    bar_volatility = _DAILY_VOLATILITY * math.sqrt(minutes / 1440.0)
    sigma = np.sqrt(_garch_variance(innovations, bar_volatility**2))
    returns = sigma * innovations
    close = start_price * np.exp(np.cumsum(returns))
    frame = _bars_from_closes(rng, close, sigma, start_price, minutes)
    index = pd.date_range(start=pd.Timestamp(start, tz="UTC"), periods=bars, freq=step)
    frame.index = pd.DatetimeIndex(index, name="time").as_unit("ns")
    return frame


def _student_t(rng: np.random.Generator, size: int) -> FloatArray:
    draws = rng.standard_t(_STUDENT_DF, size=size)
    return draws / math.sqrt(_STUDENT_DF / (_STUDENT_DF - 2.0))


def _garch_variance(innovations: FloatArray, target_variance: float) -> FloatArray:
    """Conditional variances h[t] = w + (a z[t-1]^2 + b) h[t-1], since r = sqrt(h) z.

    Written as an affine recursion in h alone, the loop runs in C via itertools.accumulate.
    """
    omega = target_variance * (1.0 - _GARCH_ALPHA - _GARCH_BETA)
    growth = _GARCH_ALPHA * np.square(innovations[:-1]) + _GARCH_BETA
    variances = itertools.accumulate(
        growth.tolist(), lambda h, g: omega + g * h, initial=target_variance
    )
    return np.fromiter(variances, dtype="float64", count=len(innovations))


def _bars_from_closes(
    rng: np.random.Generator,
    close: FloatArray,
    sigma: FloatArray,
    start_price: float,
    minutes: float,
) -> pd.DataFrame:
    close = np.round(close, _PRICE_DECIMALS)
    open_ = np.concatenate(([round(start_price, _PRICE_DECIMALS)], close[:-1]))[: len(close)]
    body_top = np.maximum(open_, close)
    body_bottom = np.minimum(open_, close)
    upper = rng.exponential(_WICK_SCALE, size=len(close)) * sigma
    lower = rng.exponential(_WICK_SCALE, size=len(close)) * sigma
    high = np.maximum(np.round(body_top * np.exp(upper), _PRICE_DECIMALS), body_top)
    low = np.minimum(np.round(body_bottom * np.exp(-lower), _PRICE_DECIMALS), body_bottom)
    noise = rng.lognormal(mean=0.0, sigma=0.5, size=len(close))
    log_move = np.abs(np.log(close / open_)) / sigma
    volume = _VOLUME_PER_MINUTE * minutes * noise * (1.0 + _VOLUME_RETURN_WEIGHT * log_move)
    # Column-major, so each column is contiguous and pandas keeps the block without copying.
    table = np.empty((len(close), len(OHLCV_COLUMNS)), dtype=np.float64, order="F")
    for position, column in enumerate((open_, high, low, close)):
        table[:, position] = column
    table[:, 4] = np.round(volume, _VOLUME_DECIMALS)
    return pd.DataFrame(table, columns=list(OHLCV_COLUMNS), copy=False)


def sample_paths(data_dir: Path) -> list[Path]:
    """Where the bundled samples live: `<data_dir>/samples/BTCUSDT-1m.parquet` and `-1h`."""
    folder = data_dir / "samples"
    return [folder / f"{SAMPLE_SYMBOL}-1m.parquet", folder / f"{SAMPLE_SYMBOL}-1h.parquet"]


def ensure_samples(data_dir: Path) -> list[Path]:
    """Write the bundled sample datasets under `data_dir/samples` if missing; return their paths.

    The 1m sample is one year (2023, 525,600 bars, seed 7) and the 1h sample its resample;
    both files are byte-identical every time they are made.
    """
    ensure_eth_sample(data_dir)
    minute_path, hour_path = sample_paths(data_dir)
    if minute_path.exists() and hour_path.exists():
        return [minute_path, hour_path]
    logger.info("generating sample datasets data_dir=%s", data_dir)
    minutes = generate_ohlcv(bars=SAMPLE_BARS_1M, timeframe="1m", start=SAMPLE_START)
    write_ohlcv_parquet(minutes, minute_path)
    write_ohlcv_parquet(resample_ohlcv(minutes, "1h"), hour_path)
    return [minute_path, hour_path]


def eth_sample_path(data_dir: Path) -> Path:
    """Where the bundled second symbol lives: `<data_dir>/samples/ETHUSDT-1h.parquet`."""
    return data_dir / "samples" / f"{ETH_SAMPLE_SYMBOL}-1h.parquet"


def ensure_eth_sample(data_dir: Path) -> Path:
    """Write the ETHUSDT 1h sample (2023, 8,760 bars, seed 23, from 1,200) if missing; it is
    byte-identical every time it is made."""
    path = eth_sample_path(data_dir)
    if not path.exists():
        hours = generate_ohlcv(
            bars=ETH_SAMPLE_BARS_1H,
            timeframe="1h",
            start=SAMPLE_START,
            seed=ETH_SAMPLE_SEED,
            start_price=ETH_SAMPLE_START_PRICE,
        )
        write_ohlcv_parquet(hours, path)
    return path
