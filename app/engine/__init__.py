"""Strategy Lab's pure simulation engine: data views, orders, portfolio, margin, metrics."""

from app.engine.config import ParamValue, RunConfig
from app.engine.context import PositionInfo
from app.engine.errors import (
    ConfigError,
    EngineError,
    IndicatorError,
    MarketDataError,
    StrategyDefinitionError,
    StrategyRuntimeError,
)
from app.engine.feed import Bar, DataView, MarketData, SeriesView, ns_to_iso
from app.engine.indicators import IndicatorFrame, indicator_names, look_ahead_reason
from app.engine.loop import Progress, ProgressCallback, run_backtest, simulate, summarize
from app.engine.margin import BINANCE_BTCUSDT_TIERS, MarginTier, build_tiers, liquidation_price
from app.engine.metrics import DEFINITIONS as METRIC_DEFINITIONS
from app.engine.orders import OrderTicket
from app.engine.results import AccountMarks, EquityCurve, RunRecord, RunResult, equity_curve
from app.engine.strategy import Strategy, coerce_params, crossover, crossunder
from app.engine.timeframes import TimeframeView
from app.engine.types import (
    ExitReason,
    LogLevel,
    LogLine,
    Mode,
    OrderRecord,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Trade,
)

__all__ = [
    "BINANCE_BTCUSDT_TIERS",
    "METRIC_DEFINITIONS",
    "AccountMarks",
    "Bar",
    "ConfigError",
    "DataView",
    "EngineError",
    "EquityCurve",
    "ExitReason",
    "IndicatorError",
    "IndicatorFrame",
    "LogLevel",
    "LogLine",
    "MarginTier",
    "MarketData",
    "MarketDataError",
    "Mode",
    "OrderRecord",
    "OrderSide",
    "OrderStatus",
    "OrderTicket",
    "OrderType",
    "ParamValue",
    "PositionInfo",
    "PositionSide",
    "Progress",
    "ProgressCallback",
    "RunConfig",
    "RunRecord",
    "RunResult",
    "SeriesView",
    "Strategy",
    "StrategyDefinitionError",
    "StrategyRuntimeError",
    "TimeframeView",
    "Trade",
    "build_tiers",
    "coerce_params",
    "crossover",
    "crossunder",
    "equity_curve",
    "indicator_names",
    "liquidation_price",
    "look_ahead_reason",
    "ns_to_iso",
    "run_backtest",
    "simulate",
    "summarize",
]
