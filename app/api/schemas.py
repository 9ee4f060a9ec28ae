"""Request and response bodies of the HTTP API (pydantic, strict about what comes in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.db.models import RunStatus
from app.engine import Mode

MAX_CODE_CHARS = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every supported database
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters
ParamValue = (
    bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[str, Field(max_length=1000, pattern=NO_NUL)]
)


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is an error and not a silent default."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """A refusal that concerns the request as a whole (not found, conflict, upload refused)."""

    detail: str


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    database: str
    workers: int


class Example(BaseModel):
    name: str = Field(description="File stem, e.g. sma_crossover.")
    title: str = Field(description="First line of the module docstring.")
    code: str
    params: dict[str, ParamValue]


class DiagnosticOut(BaseModel):
    """One problem in strategy source; lines and columns are 1-based."""

    line: int
    col: int
    end_line: int
    end_col: int
    severity: Literal["error", "warning"]
    message: str
    code: str = ""
    hint: str = ""
    suggestion: str = ""


class ValidateRequest(Strict):
    code: str = Field(max_length=MAX_CODE_CHARS, pattern=NO_NUL)


class ValidateResponse(BaseModel):
    ok: bool = Field(description="True when no diagnostic is an error.")
    diagnostics: list[DiagnosticOut]


class StrategyCreate(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    code: str = Field(max_length=MAX_CODE_CHARS, pattern=NO_NUL)


class StrategyUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    code: str | None = Field(default=None, max_length=MAX_CODE_CHARS, pattern=NO_NUL)

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.name is None and self.code is None:
            raise ValueError("send a new name, new code, or both")
        return self


class StrategySummary(BaseModel):
    id: int
    name: str
    version: int = Field(description="The current version; every save of code adds one.")
    created_at: datetime
    updated_at: datetime


class StrategyVersionOut(BaseModel):
    version: int
    code_hash: str
    created_at: datetime


class StrategyOut(StrategySummary):
    code: str
    code_hash: str
    params: dict[str, ParamValue]
    versions: list[StrategyVersionOut] = Field(default_factory=list)


class StrategyUploaded(StrategyOut):
    diagnostics: list[DiagnosticOut]


class DatasetOut(BaseModel):
    name: str = Field(description="What POST /api/runs takes as `dataset`.")
    symbol: str
    timeframe: str
    source: Literal["sample", "store"]
    version: int | None
    rows: int
    first_bar: datetime | None
    last_bar: datetime | None
    content_hash: str
    warnings: list[str]


class Fees(Strict):
    """Fees as fractions of notional (0.0005 = 0.05 %)."""

    maker: float = Field(default=0.0002, ge=0, lt=0.1, allow_inf_nan=False)
    taker: float = Field(default=0.0005, ge=0, lt=0.1, allow_inf_nan=False)


class RunCreate(Strict):
    """A backtest to run: the code (or a saved strategy) on a dataset, with account settings."""

    code: str | None = Field(default=None, max_length=MAX_CODE_CHARS, pattern=NO_NUL)
    strategy_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    strategy_version: int | None = Field(default=None, ge=1, le=MAX_ID)
    dataset: str = Field(min_length=1, max_length=200, pattern=NO_NUL, examples=["BTCUSDT-1h"])
    start: datetime | None = Field(default=None, description="First traded bar (UTC if naive).")
    end: datetime | None = Field(default=None, description="Last bar used (UTC if naive).")
    mode: Mode = Mode.FUTURES
    cash: float = Field(default=10_000.0, gt=0, le=1e12, allow_inf_nan=False)
    leverage_max: float = Field(default=125.0, ge=1, le=125, allow_inf_nan=False)
    fees: Fees = Field(default_factory=Fees, description="An object, or one number for both.")
    slippage_bps: float = Field(default=0.0, ge=0, lt=1000, allow_inf_nan=False)
    params: dict[str, ParamValue] = Field(default_factory=dict, max_length=200)

    @field_validator("fees", mode="before")
    @classmethod
    def _one_fee_for_both(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"maker": value, "taker": value}
        return value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _one_source_and_a_period(self) -> Self:
        if (self.code is None) == (self.strategy_id is None):
            raise ValueError("send exactly one of `code` or `strategy_id`")
        if self.strategy_version is not None and self.strategy_id is None:
            raise ValueError("`strategy_version` needs `strategy_id`")
        if self.start and self.end and self.end < self.start:
            raise ValueError("`end` is before `start`")
        return self


class RunCreated(BaseModel):
    id: str
    status: RunStatus


class RunError(BaseModel):
    message: str
    line: int | None = None
    kind: str = ""


class RunSummary(BaseModel):
    id: str
    status: RunStatus
    strategy_id: int | None
    strategy_version: int | None
    strategy_name: str
    dataset: str
    pct: float
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    metrics: dict[str, float | int | str | None] | None
    error: RunError | None


class RunDetail(RunSummary):
    code: str
    code_hash: str
    params: dict[str, ParamValue]
    dataset_version: str
    dataset_hash: str
    config: dict[str, Any]
    config_hash: str
    bars_done: int
    bars_total: int
    logs_dropped: int
    error_details: dict[str, Any] | None = Field(
        default=None, description="Everything known about a failure (bar, phase, diagnostics)."
    )


class TradeOut(BaseModel):
    entry_time: datetime
    exit_time: datetime
    entry_index: int
    exit_index: int
    side: str
    size: float
    entry_price: float
    exit_price: float
    pnl: float
    fees: float
    exit_reason: str


class OrderOut(BaseModel):
    id: int
    created_time: datetime
    created_index: int
    side: str
    type: str
    amount: float
    limit_price: float | None
    stop_price: float | None
    leverage: float
    stop_loss: float | None
    take_profit: float | None
    status: str
    filled_time: datetime | None
    filled_price: float | None
    filled_amount: float
    fee: float
    reason: str


class LogOut(BaseModel):
    time: datetime
    bar_index: int
    level: str
    message: str


class EquityPoint(BaseModel):
    time: int = Field(description="Bar open time, epoch seconds UTC.")
    equity: float
    drawdown: float = Field(description="Equity / running peak - 1 (0 or negative).")
    position: float = Field(description="Signed position size, base units.")


class Candle(BaseModel):
    time: int = Field(description="Candle open time, epoch seconds UTC.")
    open: float
    high: float
    low: float
    close: float


class CandlesOut(BaseModel):
    run_id: str
    dataset: str
    candle_seconds: int = Field(description="Length of one candle (the data's bars or coarser).")
    candles: list[Candle]


class EquityOut(BaseModel):
    run_id: str
    total_points: int = Field(description="Bars in the stored curve (points may be fewer).")
    points: list[EquityPoint]
