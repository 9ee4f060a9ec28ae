"""The settings a strategy may pass to each pandas-ta indicator, with their types and ranges.

Recorded once from pandas-ta 0.4.71b0 (`inspect.signature` of every indicator function, then a
read of what each setting does in its source) and kept as data; tests/engine/
test_indicator_rules.py checks it against the installed pandas-ta, so an upgrade that adds a
setting fails there until someone decides what the setting does.

Why an allow-list: pandas-ta has many settings that move values in time, not just `offset`:
`drift` (a difference against `drift` bars away: negative means the future), lags and periods
used as shifts (`lag`, ichimoku's `kijun`), centred windows (`dpo`'s `centered`), whole-data
fits (`cdl_z`'s `full`), period anchors whose unsupported values skip pandas-ta's shift to the
next period (`pivots`' `anchor`), and keyword arguments it forwards to inner moving averages.
A deny-list of the dangerous ones missed some; here a setting is usable only when it is listed
for that indicator, and its range excludes the values that read future bars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

IndicatorArg = bool | int | float | str

# The longest period any setting may ask for (bars). Long enough for a two-month window of
# one-minute bars; it also bounds the warm-up the look-ahead check has to recompute.
MAX_PERIOD: Final = 100_000
# Numeric settings that are not periods (multipliers, scalars, weights) stay within this.
MAX_MAGNITUDE: Final = 1e6
MAX_TEXT_CHARS: Final = 32


@dataclass(frozen=True, slots=True)
class SettingRule:
    """What one setting accepts: its type, an inclusive range, or a closed set of choices.

    A `float` setting also takes a whole number (kept as an int: pandas-ta names columns by the
    value as written); an `int` setting takes a float only when it is a whole number.
    """

    kind: type[bool] | type[int] | type[float] | type[str]
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[IndicatorArg, ...] = ()
    why: str = ""
    # Values outside `choices` refused with their own reason: (value, why), e.g. a candle
    # pattern that looks ahead.
    refused: tuple[tuple[IndicatorArg, str], ...] = ()

    def refusal(self, value: IndicatorArg) -> str | None:
        """Why `value` in particular is refused, when the rule says."""
        return next((why for v, why in self.refused if type(v) is type(value) and v == value), None)

    def describe(self) -> str:
        """What is allowed, in the words of an error message."""
        if self.choices:
            allowed = ", ".join(repr(choice) for choice in self.choices)
            text = f"only {allowed}" if len(self.choices) == 1 else f"one of {allowed}"
        elif self.kind is bool:
            text = "True or False"
        else:
            word = "a whole number" if self.kind is int else "a number"
            text = f"{word} from {self.minimum:g} to {self.maximum:g}"
        return f"{text} ({self.why})" if self.why else text


def _every(rule: SettingRule, names: str) -> dict[str, SettingRule]:
    return dict.fromkeys(names.split(), rule)


def period(why: str = "") -> SettingRule:
    return SettingRule(int, 1, MAX_PERIOD, why=why)


def number(minimum: float = -MAX_MAGNITUDE, maximum: float = MAX_MAGNITUDE) -> SettingRule:
    return SettingRule(float, minimum, maximum)


def choice(
    *values: IndicatorArg, why: str = "", refused: Mapping[str, str] | None = None
) -> SettingRule:
    return SettingRule(
        type(values[0]), choices=values, why=why, refused=tuple((refused or {}).items())
    )


FLAG: Final = SettingRule(bool)
PERIOD: Final = period()
POSITIVE: Final = number(0.0)
FRACTION: Final = number(0.0, 1.0)
NUMBER: Final = number()

# The moving averages pandas-ta's `ma()` dispatches to (all causal), for every `mamode`.
MA_NAMES: Final = (
    "dema", "ema", "fwma", "hma", "linreg", "midpoint", "pwma", "rma", "sinwma", "sma", "ssf",
    "swma", "t3", "tema", "trima", "vidya", "wma",
)  # fmt: skip
MAMODE: Final = choice(*MA_NAMES)

# pandas-ta's ALL_PATTERNS (pandas_ta/candle/cdl_pattern.py) without 'inside': pandas-ta's own
# inside bar compares each high and low with the previous bar's through numpy's `roll`, so bar 0
# is compared with the last bar of the data. 'doji' is pandas-ta's own (a trailing 10-bar
# average of the range); the other 60 are TA-Lib's CDL* functions, which read only the current
# and earlier bars (their body and shadow averages trail too). The repaint check confirms each
# one on random bars (tests/engine/test_candle_patterns.py).
CAUSAL_CANDLE_PATTERNS: Final = (
    "2crows", "3blackcrows", "3inside", "3linestrike", "3outside", "3starsinsouth",
    "3whitesoldiers", "abandonedbaby", "advanceblock", "belthold", "breakaway",
    "closingmarubozu", "concealbabyswall", "counterattack", "darkcloudcover", "doji",
    "dojistar", "dragonflydoji", "engulfing", "eveningdojistar", "eveningstar",
    "gapsidesidewhite", "gravestonedoji", "hammer", "hangingman", "harami", "haramicross",
    "highwave", "hikkake", "hikkakemod", "homingpigeon", "identical3crows", "inneck",
    "invertedhammer", "kicking", "kickingbylength", "ladderbottom", "longleggeddoji",
    "longline", "marubozu", "matchinglow", "mathold", "morningdojistar", "morningstar",
    "onneck", "piercing", "rickshawman", "risefall3methods", "separatinglines", "shootingstar",
    "shortline", "spinningtop", "stalledpattern", "sticksandwich", "takuri", "tasukigap",
    "thrusting", "tristar", "unique3river", "upsidegap2crows", "xsidegap3methods",
)  # fmt: skip
# The candle pattern names refused, with why.
LOOK_AHEAD_CANDLE_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "inside": "pandas-ta's inside bar compares the first bar with the last one (it wraps "
        "around the series end), so it looks ahead",
        "all": "'all' includes 'inside', which compares the first bar with the last one, so it "
        "looks ahead; name one pattern",
    }
)

# What a setting name means wherever pandas-ta uses it (overridden per indicator below).
SETTING_RULES: Final[Mapping[str, SettingRule]] = MappingProxyType(
    {
        # -- shifts: only towards the past --------------------------------------------------
        "offset": SettingRule(
            int, 0, MAX_PERIOD, why="a negative offset moves future values onto past bars"
        ),
        "drift": SettingRule(
            int, 1, MAX_PERIOD, why="drift is how many bars back a difference reaches"
        ),
        "lag": period("lag is how many bars back the trend line is read"),
        "min_periods": PERIOD,
        # -- periods ------------------------------------------------------------------------
        **_every(
            PERIOD,
            "length atr_length abr_length adxr_length bars bb_length calc_length cap "
            "close_length d fast high_length jaw k kc_length lips lookback low_length "
            "lower_length ma_length max_lookback medium min_lookback mom_length mom_smooth "
            "p rank_length roc1 roc2 roc3 roc4 rsi_length run_length rvi_length signal "
            "signal_length slow sma1 sma2 sma3 sma4 smooth smooth_k smooth_length "
            "std_length streak_length swma_length tc_length teeth tenkan tmo_length "
            "upper_length vol_length",
        ),
        "kijun": period("ichimoku shifts its spans by kijun - 1 bars"),
        "senkou": PERIOD,
        "ddof": SettingRule(int, 0, 1, why="degrees of freedom of the deviation"),
        # -- numbers ------------------------------------------------------------------------
        **_every(
            POSITIVE,
            "base bb_std c divisor factor fast_w initial kc_scalar kc_scalar_narrow "
            "kc_scalar_normal kc_scalar_wide long lower_std medium_w multiplier short sigma "
            "slow_w std upper_std vol_ratio x",
        ),
        **_every(
            FRACTION,
            "a af af0 alpha dist_offset fastlimit max_af na nb nc nd q slowlimit",
        ),
        **_every(NUMBER, "scalar threshold pi sqrt2 sqrt3"),
        "phase": number(-100.0, 100.0),
        "percent": number(0.0, 100.0),
        # -- switches -----------------------------------------------------------------------
        **_every(
            FLAG,
            "as_angle asc asint channels cumulative everget exclusive initial_version ln "
            "momentum normalize nozeros overlay prenan presma refined show_all signed "
            "strict talib thirds to_degrees tr tv tvmode use_close use_tr",
        ),
        # -- words --------------------------------------------------------------------------
        "mamode": MAMODE,
        "atr_mamode": MAMODE,
    }
)

# Settings pandas-ta reads from **kwargs rather than its signature, by indicator.
KWARG_SETTINGS: Final[Mapping[str, Mapping[str, SettingRule]]] = MappingProxyType(
    {
        "atr": {"percent": FLAG},
        "ichimoku": {
            "lookahead": choice(False, why="lookahead=True adds the chikou span of later closes")
        },
        "ema": {"adjust": FLAG},
        "linreg": _every(FLAG, "angle degrees intercept r slope tsf"),
        "midpoint": {"min_periods": PERIOD},
        "midprice": {"min_periods": PERIOD},
        "sma": {"min_periods": PERIOD},
        "smma": {"min_periods": PERIOD},
        "squeeze": {"detailed": FLAG, "lazybear": FLAG},
        "squeeze_pro": {"detailed": FLAG},
        "vortex": {"min_periods": PERIOD},
    }
)

# Where a setting means something else for one indicator, or must be held at a causal value.
INDICATOR_OVERRIDES: Final[Mapping[str, Mapping[str, SettingRule]]] = MappingProxyType(
    {
        "accbands": {"c": POSITIVE},
        "alphatrend": {"src": choice("open", "high", "low", "close")},
        "cdl_pattern": {
            "name": choice(
                *CAUSAL_CANDLE_PATTERNS,
                why="the candle patterns that read no later bar",
                refused=LOOK_AHEAD_CANDLE_PATTERNS,
            )
        },
        "cdl_z": {"full": choice(False, why="full=True standardises with the whole data set")},
        "cksp": {"q": PERIOD},
        "decay": {"mode": choice("linear", "exp", "exponential")},
        "dpo": {"centered": choice(False, why="a centred window reads future bars")},
        "ichimoku": {
            "include_chikou": choice(False, why="the chikou span is the close of a later bar")
        },
        "mfi": {
            "drift": SettingRule(
                int,
                1,
                1,
                why="pandas-ta's mfi wraps its difference around the series end, so a longer "
                "drift reads the last bars of the data",
            )
        },
        "pivots": {
            "method": choice(
                "traditional", "fibonacci", "woodie", "classic", "demark", "camarilla"
            ),
            "anchor": choice(
                "D",
                why="other anchors skip pandas-ta's move to the next period, so levels "
                "would use the high and low of the period still forming",
            ),
        },
        "quantile": {"q": FRACTION},
        "thermo": {"long": POSITIVE, "short": POSITIVE},
        "vwap": {
            "anchor": choice(
                "D", "W", "M", "Q", "Y", why="the calendar period the average restarts on"
            )
        },
    }
)

# Settings in a signature that are never accepted, with the reason a trader reads.
EXCLUDED_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "bands": "takes a list; derive bands from the indicator's values instead",
        "stds": "takes a list",
        "trade_offset": "it moves trades in time",
        "backtest": "zigzag is refused as a whole",
        "legs": "zigzag is refused as a whole",
        "deviation": "zigzag is refused as a whole",
        "lookahead": "it includes values computed from future bars",
        "fillna": "filling gaps is done in the strategy, where it is visible",
        "append": "it writes into the run's data",
        "col_names": "columns keep pandas-ta's names",
        "col_numbers": "columns keep pandas-ta's names",
        "prefix": "columns keep pandas-ta's names",
        "suffix": "columns keep pandas-ta's names",
    }
)

# Indicators refused whatever their settings.
REFUSED_INDICATORS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tos_stdevall": "it fits one regression over the whole data set, future bars included",
        "zigzag": "its pivots are confirmed by later bars, so past values change (it repaints)",
        "long_run": "it takes two series, not settings; compare two indicators in on_data",
        "short_run": "it takes two series, not settings; compare two indicators in on_data",
        "tsignals": "it takes a trend series and shifts trades in time",
        "xsignals": "it takes series, not settings; use crossover() in on_data",
        "vhm": "it divides by the standard deviation of the whole volume series, future bars "
        "included",
    }
)

# Settings whose pandas-ta default looks ahead: the request must set one of them to its causal
# value (ichimoku takes either switch: pandas-ta's `lookahead=False` turns the chikou span off),
# or, where the value is ANY_ALLOWED, give it at all (any value its rule accepts).
ANY_ALLOWED: Final = None
REQUIRED_SETTINGS: Final[Mapping[str, tuple[tuple[tuple[str, IndicatorArg | None], ...], str]]] = (
    MappingProxyType(
        {
            "dpo": (
                (("centered", False),),
                "'dpo' is centred by default, which reads future bars",
            ),
            "ichimoku": (
                (("include_chikou", False), ("lookahead", False)),
                "ichimoku's chikou span is the close shifted back onto past bars",
            ),
            "cdl_pattern": (
                (("name", ANY_ALLOWED),),
                "its default, all patterns, includes 'inside', which compares the first bar "
                "with the last one; name one pattern, e.g. name='doji'",
            ),
        }
    )
)

# Each indicator's settings as named in its pandas-ta signature (inputs such as close, high,
# low and volume left out: an indicator always reads the run's own bars).
SIGNATURE_SETTINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "aberration": "length atr_length offset",
        "accbands": "length c drift mamode offset",
        "ad": "talib offset",
        "adosc": "fast slow talib offset",
        "adx": "length signal_length adxr_length scalar talib tvmode mamode drift offset",
        "alligator": "jaw teeth lips talib offset",
        "alma": "length sigma dist_offset offset",
        "alphatrend": "src length multiplier threshold lag mamode talib offset",
        "amat": "fast slow lookback mamode offset",
        "ao": "fast slow offset",
        "aobv": "fast slow max_lookback min_lookback mamode run_length offset",
        "apo": "fast slow mamode talib offset",
        "aroon": "length scalar talib offset",
        "atr": "length mamode talib prenan drift offset",
        "atrts": "length ma_length k mamode talib drift offset",
        "bbands": "length lower_std upper_std ddof mamode talib offset",
        "bias": "length mamode offset",
        "bop": "scalar talib offset",
        "brar": "length scalar drift offset",
        "cci": "length c talib offset",
        "cdl_pattern": "name scalar offset",
        "cdl_z": "length full ddof offset",
        "cfo": "length scalar drift offset",
        "cg": "length offset",
        "chandelier_exit": (
            "high_length low_length atr_length multiplier mamode talib use_close drift offset"
        ),
        "chop": "length atr_length ln scalar drift offset",
        "cksp": "p x q tvmode mamode offset",
        "cmf": "length offset",
        "cmo": "length scalar talib drift offset",
        "coppock": "length fast slow offset",
        "crsi": "rsi_length streak_length rank_length scalar talib drift offset",
        "cti": "length offset",
        "decay": "length mode offset",
        "decreasing": "length strict asint percent drift offset",
        "dema": "length talib offset",
        "dm": "length mamode talib drift offset",
        "donchian": "lower_length upper_length offset",
        "dpo": "length centered offset",
        "ebsw": "length bars initial_version offset",
        "efi": "length mamode drift offset",
        "ema": "length talib presma offset",
        "entropy": "length base offset",
        "eom": "length divisor drift offset",
        "er": "length drift offset",
        "eri": "length offset",
        "exhc": "length cap asint show_all nozeros offset",
        "fisher": "length signal offset",
        "fwma": "length asc offset",
        "ha": "offset",
        "hilo": "high_length low_length mamode offset",
        "hl2": "offset",
        "hlc3": "talib offset",
        "hma": "length mamode offset",
        "ht_trendline": "talib prenan offset",
        "hwc": "scalar channels na nb nc nd offset",
        "hwma": "na nb nc offset",
        "ichimoku": "tenkan kijun senkou include_chikou offset",
        "increasing": "length strict asint percent drift offset",
        "inertia": "length rvi_length scalar refined thirds drift mamode offset",
        "jma": "length phase offset",
        "kama": "length fast slow mamode drift offset",
        "kc": "length scalar tr mamode offset",
        "kdj": "length signal offset",
        "kst": "signal roc1 roc2 roc3 roc4 sma1 sma2 sma3 sma4 drift offset",
        "kurtosis": "length offset",
        "kvo": "fast slow signal mamode drift offset",
        "linreg": "length talib offset",
        "log_return": "length cumulative offset",
        "long_run": "fast slow length offset",
        "macd": "fast slow signal talib offset",
        "mad": "length offset",
        "mama": "fastlimit slowlimit prenan talib offset",
        "massi": "fast slow offset",
        "mcgd": "length c offset",
        "median": "length offset",
        "mfi": "length talib drift offset",
        "midpoint": "length talib offset",
        "midprice": "length talib offset",
        "mom": "length talib offset",
        "natr": "length scalar mamode talib prenan drift offset",
        "nvi": "length initial offset",
        "obv": "talib offset",
        "ohlc4": "offset",
        "pdist": "drift offset",
        "percent_return": "length cumulative offset",
        "pgo": "length offset",
        "pivots": "method anchor",
        "ppo": "fast slow signal scalar mamode talib offset",
        "psar": "af0 af max_af tv offset",
        "psl": "length scalar drift offset",
        "pvi": "length initial mamode overlay offset",
        "pvo": "fast slow signal scalar offset",
        "pvol": "signed offset",
        "pvr": "drift",
        "pvt": "drift offset",
        "pwma": "length asc offset",
        "qqe": "length smooth factor mamode drift offset",
        "qstick": "length mamode offset",
        "quantile": "length q offset",
        "reflex": "length smooth alpha pi sqrt2 offset",
        "rma": "length offset",
        "roc": "length scalar talib offset",
        "rsi": "length scalar mamode talib drift offset",
        "rsx": "length drift offset",
        "rvgi": "length swma_length offset",
        "rvi": "length scalar refined thirds mamode drift offset",
        "rwi": "length mamode talib drift offset",
        "short_run": "fast slow length offset",
        "sinwma": "length offset",
        "skew": "length offset",
        "slope": "length as_angle to_degrees offset",
        "sma": "length talib offset",
        "smc": "abr_length close_length vol_length percent vol_ratio asint mamode talib offset",
        "smi": "fast slow signal scalar offset",
        "smma": "length mamode talib offset",
        "squeeze": (
            "bb_length bb_std kc_length kc_scalar mom_length mom_smooth use_tr mamode prenan offset"
        ),
        "squeeze_pro": (
            "bb_length bb_std kc_length kc_scalar_narrow kc_scalar_normal kc_scalar_wide "
            "mom_length mom_smooth use_tr mamode prenan offset"
        ),
        "ssf": "length everget pi sqrt2 offset",
        "ssf3": "length pi sqrt3 offset",
        "stc": "tc_length fast slow factor offset",
        "stdev": "length ddof talib offset",
        "stoch": "k d smooth_k mamode talib offset",
        "stochf": "k d mamode talib offset",
        "stochrsi": "length rsi_length k d mamode talib offset",
        "supertrend": "length atr_length multiplier atr_mamode offset",
        "swma": "length offset",
        "t3": "length a talib offset",
        "tema": "length talib offset",
        "thermo": "length long short mamode asint drift offset",
        "tmo": "tmo_length calc_length smooth_length momentum normalize exclusive mamode offset",
        "tos_stdevall": "length stds ddof offset",
        "trendflex": "length smooth alpha pi sqrt2 offset",
        "trima": "length talib offset",
        "trix": "length signal scalar drift offset",
        "true_range": "talib prenan drift offset",
        "tsi": "fast slow signal scalar mamode drift offset",
        "tsignals": "trend asbool trade_offset drift offset",
        "tsv": "length signal mamode drift offset",
        "ui": "length scalar offset",
        "uo": "fast medium slow fast_w medium_w slow_w talib drift offset",
        "variance": "length ddof talib offset",
        "vhf": "length drift offset",
        "vhm": "length std_length mamode offset",
        "vidya": "length talib drift offset",
        "vortex": "length drift offset",
        "vwap": "anchor bands offset",
        "vwma": "length offset",
        "wcp": "talib offset",
        "willr": "length talib offset",
        "wma": "length asc talib offset",
        "xsignals": "source xa xb above long asbool trade_offset offset",
        "zigzag": "legs deviation backtest offset",
        "zlma": "length mamode offset",
        "zscore": "length std offset",
    }
)


def allowed_settings(name: str) -> Mapping[str, SettingRule]:
    """Every setting `name` accepts and its rule; empty for an unknown or refused indicator."""
    if name in REFUSED_INDICATORS or name not in SIGNATURE_SETTINGS:
        return MappingProxyType({})
    overrides = INDICATOR_OVERRIDES.get(name, {})
    rules: dict[str, SettingRule] = {}
    for setting in SIGNATURE_SETTINGS[name].split():
        if setting in overrides:
            rules[setting] = overrides[setting]
        elif setting in SETTING_RULES:
            rules[setting] = SETTING_RULES[setting]
    rules.update(KWARG_SETTINGS.get(name, {}))
    return MappingProxyType(rules)
