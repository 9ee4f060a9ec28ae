"""Recursive filters (each bar's value from the previous bar's state), ported from
pandas-ta's Python loops: vidya, ebsw, hwma, hwc, jma."""

from __future__ import annotations

import numpy as np

from app.engine.fast_indicators.primitives import kernel, numpy_sum, rolling_sum, shifted
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
EPSILON = float(np.finfo(np.float64).eps)


@kernel
def _vidya_loop(
    close: FloatArray, abs_cmo: FloatArray, length: int
) -> FloatArray:  # pragma: no cover
    alpha = 2 / (length + 1)
    out = np.zeros(close.size)
    for i in range(length, close.size):
        out[i] = alpha * abs_cmo[i] * close[i] + out[i - 1] * (1 - alpha * abs_cmo[i])
    return out


def vidya(bars: Bars, settings: Settings) -> Columns:
    """Chande's variable index dynamic average, VIDYA_{length}: an EMA whose weight is
    scaled by |CMO|. As in pandas-ta, an exact 0 becomes NaN (the warm-up bars)."""
    length = settings.positive_int("length", 14)
    drift = settings.drift()
    offset = settings.offset()
    settings.done()
    bars.require(length + 1)
    close = bars.close
    momentum = close - shifted(close, drift)
    with np.errstate(invalid="ignore"):
        positive = np.where(momentum < 0, 0.0, momentum)  # clip(lower=0), NaN kept
        negative = np.abs(np.where(momentum > 0, 0.0, momentum))  # clip(upper=0).abs()
    positive_sum = rolling_sum(positive, length, length)
    negative_sum = rolling_sum(negative, length, length)
    cmo = (positive_sum - negative_sum) / (positive_sum + negative_sum)
    values = _vidya_loop(close, np.abs(cmo), length)
    values[values == 0] = np.nan
    return {f"VIDYA_{length}": shifted(values, offset)}


@kernel
def _ebsw_loop(close: FloatArray, length: int, bars: float) -> FloatArray:  # pragma: no cover
    """Ehlers' even better sinewave, pandas-ta's default (not initial_version) loop."""
    out = np.full(close.size, np.nan)
    out[length - 1] = 0.0
    last_hp = 0.0
    last_close = 0.0
    history = np.zeros(3)
    angle = 2 * np.pi / length
    alpha1 = (1 - np.sin(angle)) / np.cos(angle)
    ang = 2**0.5 * np.pi / bars
    a1 = np.exp(-ang)
    c2 = 2 * a1 * np.cos(ang)
    c3 = -(a1**2)
    c1 = 1 - c2 - c3
    for i in range(length, close.size):
        hp = 0.5 * (1 + alpha1) * (close[i] - last_close) + alpha1 * last_hp
        history[0], history[1] = history[1], history[2]  # numpy.roll(history, -1)
        history[2] = 0.5 * c1 * (hp + last_hp) + c2 * history[1] + c3 * history[0]
        wave = numpy_sum(history) / 3
        rms = np.sqrt(numpy_sum(history**2) / 3)
        out[i] = wave / rms
        last_hp = hp
        last_close = close[i]
    return out


def ebsw(bars: Bars, settings: Settings) -> Columns:
    """Even better sinewave, column EBSW_{length}_{bars}."""
    length = settings.positive_int("length", 40)
    period = settings.positive_number("bars", 10)
    if settings.flag("initial_version", False):
        raise NotOnFastPath("initial_version=True")
    offset = settings.offset()
    settings.done()
    bars.require(length)
    values = _ebsw_loop(bars.close, length, float(period))
    return {f"EBSW_{length}_{period}": shifted(values, offset)}


@kernel
def _holt_winters(
    close: FloatArray, na: float, nb: float, nc: float
) -> FloatArray:  # pragma: no cover
    """Holt-Winters level F, velocity V, acceleration A (pandas_ta/overlap/hwma.py): the
    moving average is F + V + A / 2."""
    m = close.size
    result = np.empty(m)
    last_a = 0.0
    last_v = 0.0
    last_f = close[0]
    for i in range(m):
        f = (1.0 - na) * (last_f + last_v + 0.5 * last_a) + na * close[i]
        v = (1.0 - nb) * (last_v + last_a) + nb * (f - last_f)
        a = (1.0 - nc) * last_a + nc * (v - last_v)
        result[i] = f + v + 0.5 * a
        last_a, last_f, last_v = a, f, v
    return result


def _hwma_weight(settings: Settings, key: str, default: float) -> float:
    """hwma's own rule: a float strictly between 0 and 1, else the default."""
    value = settings.value(key)
    return float(value) if isinstance(value, float) and 0 < value < 1 else default


def hwma(bars: Bars, settings: Settings) -> Columns:
    """Holt-Winters moving average, column HWMA_{na}_{nb}_{nc}."""
    na = _hwma_weight(settings, "na", 0.2)
    nb = _hwma_weight(settings, "nb", 0.1)
    nc = _hwma_weight(settings, "nc", 0.1)
    offset = settings.offset()
    settings.done()
    bars.require(1)
    values = _holt_winters(bars.close, na, nb, nc)
    return {f"HWMA_{na}_{nb}_{nc}": shifted(values, offset)}


@kernel
def _hwc_loop(
    close: FloatArray, scalar: float, na: float, nb: float, nc: float, nd: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:  # pragma: no cover
    """pandas_ta/volatility/hwc.py: the Holt-Winters line with a channel of `scalar`
    standard deviations of its previous errors (the deviation lags one bar, as there)."""
    m = close.size
    result = np.empty(m)
    upper = np.empty(m)
    lower = np.empty(m)
    width = np.empty(m)
    percent = np.empty(m)
    last_a = last_v = last_var = 0.0
    last_f = last_price = last_result = close[0]
    for i in range(m):
        f = (1.0 - na) * (last_f + last_v + 0.5 * last_a) + na * close[i]
        v = (1.0 - nb) * (last_v + last_a) + nb * (f - last_f)
        a = (1.0 - nc) * last_a + nc * (v - last_v)
        result[i] = f + v + 0.5 * a
        var = (1.0 - nd) * last_var + nd * (last_price - last_result) * (last_price - last_result)
        stddev = np.sqrt(last_var)
        upper[i] = result[i] + scalar * stddev
        lower[i] = result[i] - scalar * stddev
        width[i] = upper[i] - lower[i]
        percent[i] = (close[i] - lower[i]) / (upper[i] - lower[i] + EPSILON)
        last_price = close[i]
        last_a, last_f, last_v, last_var = a, f, v, var
        last_result = result[i]
    return result, lower, upper, width, percent


def hwc(bars: Bars, settings: Settings) -> Columns:
    """Holt-Winters channel, columns HWM, HWL, HWU (and HWW, HWPCT with channels) with
    `_{scalar}`."""
    scalar = settings.positive_number("scalar", 1)
    is_channels = settings.flag("channels", True)
    weights = [settings.positive_number(key, default) for key, default in _HWC_WEIGHTS]
    offset = settings.offset()
    settings.done()
    bars.require(1)
    middle, lower, upper, width, percent = _hwc_loop(
        bars.close, float(scalar), *(float(w) for w in weights)
    )
    columns = {f"HWM_{scalar}": middle, f"HWL_{scalar}": lower, f"HWU_{scalar}": upper}
    if is_channels:
        columns |= {f"HWW_{scalar}": width, f"HWPCT_{scalar}": percent}
    return {name: shifted(values, offset) for name, values in columns.items()}


_HWC_WEIGHTS = (("na", 0.2), ("nb", 0.1), ("nc", 0.1), ("nd", 0.1))


@kernel
def _first_max(a: float, b: float) -> float:  # pragma: no cover
    """Python's max(a, b): b only when b > a (so max(1.0, nan) is 1.0, max(nan, 1.0) nan)."""
    return b if b > a else a


@kernel
def _first_min(a: float, b: float) -> float:  # pragma: no cover
    return b if b < a else a


@kernel
def _jma_loop(close: FloatArray, period: int, phase: float) -> FloatArray:  # pragma: no cover
    """Jurik moving average as pandas_ta/overlap/jma.py computes it, step for step."""
    m = close.size
    jma = np.zeros(m)
    volty = np.zeros(m)
    v_sum = np.zeros(m)
    det0 = det1 = 0.0
    jma[0] = ma1 = upper_band = lower_band = close[0]
    sum_length = 10
    length = 0.5 * (period - 1)
    pr = 0.5 if phase < -100 else 2.5 if phase > 100 else 1.5 + phase * 0.01
    length1 = _first_max((np.log(np.sqrt(length)) / np.log(2.0)) + 2.0, 0.0)
    pow1 = _first_max(length1 - 2.0, 0.5)
    length2 = length1 * np.sqrt(length)
    bet = length2 / (length2 + 1)
    beta = 0.45 * (period - 1) / (0.45 * (period - 1) + 2.0)
    for i in range(1, m):
        price = close[i]
        del1 = price - upper_band
        del2 = price - lower_band
        volty[i] = _first_max(abs(del1), abs(del2)) if abs(del1) != abs(del2) else 0.0
        v_sum[i] = v_sum[i - 1] + (volty[i] - volty[max(i - sum_length, 0)]) / sum_length
        start = max(i - 65, 0)
        avg_volty = numpy_sum(v_sum[start : i + 1]) / (i + 1 - start)
        d_volty = 0.0 if avg_volty == 0 else volty[i] / avg_volty
        r_volty = _first_max(1.0, _first_min(np.power(length1, 1 / pow1), d_volty))
        pow2 = np.power(r_volty, pow1)
        kv = np.power(bet, np.sqrt(pow2))
        upper_band = price if (del1 > 0) else price - (kv * del1)
        lower_band = price if (del2 < 0) else price - (kv * del2)
        power = np.power(r_volty, pow1)
        alpha = np.power(beta, power)
        ma1 = (1 - alpha) * price + alpha * ma1
        det0 = (1 - beta) * (price - ma1) + beta * det0
        ma2 = ma1 + pr * det0
        det1 = ((ma2 - jma[i - 1]) * (1 - alpha) * (1 - alpha)) + (alpha * alpha * det1)
        jma[i] = jma[i - 1] + det1
    jma[: period - 1] = np.nan
    return jma


def jma(bars: Bars, settings: Settings) -> Columns:
    """Jurik moving average, column JMA_{length}_{phase}."""
    period = settings.positive_int("length", 7)
    phase = settings.number("phase", 0.0)
    offset = settings.offset()
    settings.done()
    bars.require(period)
    return {f"JMA_{period}_{phase}": shifted(_jma_loop(bars.close, period, phase), offset)}
