"""Request and response bodies of the HTTP API (pydantic, strict about what comes in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.db.models import RunStatus
from app.engine import OPTION_FIELDS, Mode
from app.engine.config import FIELDS_BY_NAME

MAX_CODE_CHARS = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers in every supported database
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL characters
ParamValue = (
    bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[str, Field(max_length=1000, pattern=NO_NUL)]
)

# What a stored row may hold: read back as it is (a non-finite number goes out as null), so a
# value stored before validation refused it never makes a read answer 500.
StoredParamValue = bool | int | float | str


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
    params: dict[str, StoredParamValue]
    settings: dict[str, str | float] = Field(
        default_factory=dict,
        description="Run options the example needs, by RunConfig field name (e.g. mode, "
        "leverage_max); from strategies_examples/run_settings.json.",
    )


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


class ParamOut(BaseModel):
    """One strategy parameter: name, kind (bool, int, float or str) and default."""

    name: str
    kind: Literal["bool", "int", "float", "str"]
    default: ParamValue


class ValidateResponse(BaseModel):
    """The sandbox's inspection of a source: what the editor, the run form and a run use."""

    ok: bool = Field(description="True when no diagnostic is an error.")
    diagnostics: list[DiagnosticOut]
    strategy_class: str = Field(
        default="", description="The class that runs ('' when none or several could)."
    )
    title: str = Field(default="", description="First line of the module docstring.")
    params: list[ParamOut] = Field(
        default_factory=list, description="The class's params, inherited ones merged."
    )


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
    params: dict[str, StoredParamValue]
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


def option_field(name: str, **extra: Any) -> Any:
    """A pydantic Field for RunConfig option `name`: default, bounds and description come
    from the engine's field table, so the OpenAPI schema says what RunConfig enforces."""
    spec = FIELDS_BY_NAME[name]
    bounds: dict[str, Any] = {}
    if spec.minimum is not None:
        bounds["gt" if spec.is_minimum_exclusive else "ge"] = spec.minimum
    if spec.maximum is not None:
        bounds["lt" if spec.is_maximum_exclusive else "le"] = spec.maximum
    if spec.kind is float:
        bounds["allow_inf_nan"] = False
    if spec.kind in (int, float):
        bounds["strict"] = True  # JSON numbers only: true is not 1, "8" is not 8
    if spec.choices and spec.kind is not Mode:
        bounds["json_schema_extra"] = {"enum": list(spec.choices)}
    unit = f" ({spec.unit})" if spec.unit else ""
    return Field(default=spec.default, description=f"{spec.help}{unit}.", **bounds, **extra)


def _check_choices(value: Any, info: ValidationInfo) -> Any:
    """A field with a few allowed values (RUN_CONFIG_FIELDS `choices`) refuses the others."""
    spec = FIELDS_BY_NAME[str(info.field_name)]
    if value not in spec.choices:
        raise ValueError(f"must be {spec.bounds_text()}")
    return value


class Fees(Strict):
    """Fees as fractions of notional (0.0005 = 0.05 %)."""

    maker: float = option_field("fee_maker")
    taker: float = option_field("fee_taker")


MAX_MORE_DATASETS = 9
"""Further symbols one run may trade beside its primary dataset."""


class RunCreate(Strict):
    """A backtest to run: the code (or a saved strategy) on a dataset, with account settings."""

    code: str | None = Field(default=None, max_length=MAX_CODE_CHARS, pattern=NO_NUL)
    strategy_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    strategy_version: int | None = Field(default=None, ge=1, le=MAX_ID)
    dataset: str = Field(min_length=1, max_length=200, pattern=NO_NUL, examples=["BTCUSDT-1h"])
    more_datasets: list[Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]] = (
        Field(
            default_factory=list,
            max_length=MAX_MORE_DATASETS,
            description="Further symbols traded in the same account, one dataset each (e.g. "
            "['ETHUSDT-1h']); `dataset` is the primary, the strategy's self.data.",
        )
    )
    missing_bars: Literal["refuse", "common"] = Field(
        default="refuse",
        description="With more_datasets: a bar time one symbol lacks refuses the run "
        "(refuse) or is left out for every symbol (common); bars are never filled in.",
    )
    start: datetime | None = Field(default=None, description="First traded bar (UTC if naive).")
    end: datetime | None = Field(default=None, description="Last bar used (UTC if naive).")
    mode: Mode = option_field("mode")
    margin_mode: str = option_field("margin_mode")
    cash: float = option_field("cash")
    leverage_max: float = option_field("leverage_max")
    fees: Fees = Field(default_factory=Fees, description="An object, or one number for both.")
    slippage_bps: float = option_field("slippage_bps")
    funding_rate: float = option_field("funding_rate")
    funding_interval_h: int = option_field("funding_interval_h")
    trading_days_per_year: int = option_field("trading_days_per_year")
    risk_free_rate: float = option_field("risk_free_rate")
    checkpoint_every: int = option_field("checkpoint_every")
    keep_checkpoints: int = option_field("keep_checkpoints")
    params: dict[str, ParamValue] = Field(default_factory=dict, max_length=200)
    tiers: str | dict[str, Any] | None = Field(
        default=None,
        description=(
            "Maintenance-tier table: a table name from GET /api/tiers (e.g. "
            "'binance-usdtm/BTCUSDT@2023-04-16' or 'ETHUSDT' for its latest), an inline table "
            "document (docs/engine.md), or null for the dataset symbol's latest table."
        ),
    )

    _choices = field_validator("funding_interval_h", "trading_days_per_year", "margin_mode")(
        _check_choices
    )

    @field_validator("tiers")
    @classmethod
    def _small_table(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, str) and (len(value) > 200 or "\x00" in value):
            raise ValueError("a table name is at most 200 characters")
        if isinstance(value, dict) and len(str(value)) > 100_000:
            raise ValueError("an inline tier table is at most 100,000 characters")
        return value

    def options(self) -> dict[str, Any]:
        """The RunConfig option fields of this request, by their RunConfig names."""
        values = {spec.name: getattr(self, spec.name, None) for spec in OPTION_FIELDS}
        values.update(fee_maker=self.fees.maker, fee_taker=self.fees.taker)
        values.update(
            checkpoint_every=self.checkpoint_every, keep_checkpoints=self.keep_checkpoints
        )
        return values

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
    params: dict[str, StoredParamValue]
    dataset_version: str
    dataset_hash: str
    config: dict[str, Any]
    config_hash: str
    provenance: dict[str, Any] | None = Field(
        default=None, description="Hashes of code, data and config; version and git commit."
    )
    bars_done: int
    bars_total: int
    logs_dropped: int
    error_details: dict[str, Any] | None = Field(
        default=None, description="Everything known about a failure (bar, phase, diagnostics)."
    )


class TradeOut(BaseModel):
    symbol: str = Field(
        default="", description="The traded symbol (a run over several symbols trades more)."
    )

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
    margin: float | None = Field(
        default=None, description="Margin put up at entry for this slice (quote); null: unknown."
    )
    leverage: float | None = Field(
        default=None, description="size x entry_price / margin; null when the margin is unknown."
    )
    return_on_margin: float | None = Field(
        default=None, description="pnl / margin as a fraction (0.5 = +50 %); null: unknown."
    )


class OrderOut(BaseModel):
    symbol: str = Field(
        default="", description="The traded symbol (a run over several symbols trades more)."
    )

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
    symbol: str = Field(default="", description="The symbol these candles are of.")
    symbols: list[str] = Field(
        default_factory=list,
        description="Every symbol the run trades, the primary first (ask for one with ?symbol=).",
    )


class EquityOut(BaseModel):
    run_id: str
    total_points: int = Field(description="Bars in the stored curve (points may be fewer).")
    points: list[EquityPoint]


# -- sweeps -----------------------------------------------------------------------------------

SweepMethod = Literal["grid", "random", "tpe", "cmaes", "nsga2"]


class RangeIn(Strict):
    """One param's range: `low`..`high` (every `step` when given; continuous for a float param
    without one), or a list of `choices`. The same as `--param name=low:high:step` or
    `--param name=a,b,c` on the command line."""

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    low: Annotated[float, Field(allow_inf_nan=False)] | int | None = None
    high: Annotated[float, Field(allow_inf_nan=False)] | int | None = None
    step: Annotated[float, Field(allow_inf_nan=False)] | int | None = None
    choices: list[ParamValue] | None = Field(default=None, max_length=10_000)


class ObjectiveIn(Strict):
    metric: str = Field(min_length=1, max_length=100, pattern=NO_NUL, examples=["sharpe"])
    direction: Literal["maximize", "minimize"] = "maximize"


class SweepCreate(RunCreate):
    """A parameter sweep: the run fields (code or strategy, dataset, period, account; `params`
    fixes params for every trial) plus what to search and how."""

    @model_validator(mode="after")
    def _one_symbol(self) -> Self:
        if self.more_datasets:
            raise ValueError(
                "more_datasets: sweeps and walk-forwards run over one symbol; run several "
                "symbols as a single backtest (POST /api/runs)"
            )
        return self

    ranges: list[RangeIn | Annotated[str, Field(max_length=10_000, pattern=NO_NUL)]] = Field(
        min_length=1,
        max_length=50,
        description="One range per searched param: an object, or the CLI's text form "
        '("fast=5:50:5", "slow=20..200", "mode=a,b,c").',
    )
    method: SweepMethod = "grid"
    objectives: list[ObjectiveIn] = Field(
        default_factory=lambda: [ObjectiveIn(metric="sharpe")],
        min_length=1,
        max_length=2,
        description="One metric of metrics.json to optimise, or two for nsga2.",
    )
    min_trades: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="Fewer closed trades: infeasible."
    )
    max_drawdown: float | None = Field(
        default=None,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="A deeper max drawdown (fraction of the peak, 0.3 = 30 %): infeasible.",
    )
    trials: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Trial budget (a grid's size when unset)."
    )
    seed: int = Field(default=0, ge=0, le=MAX_ID)

    @field_validator("checkpoint_every")
    @classmethod
    def _trials_take_no_checkpoints(cls, value: int) -> int:
        if value:
            raise ValueError(
                "sweep trials take no checkpoints (a sweep resumes by itself after a restart); "
                "leave it 0"
            )
        return value


class SweepCreated(BaseModel):
    id: str
    status: RunStatus
    trials_total: int | None


class SweepTrialOut(BaseModel):
    """One finished trial: every param, the figures of its metrics.json, whether it met the
    constraints, and its objective values (null when it failed or is undefined)."""

    number: int
    params: dict[str, StoredParamValue]
    metrics: dict[str, float | int | str | None]
    feasible: bool
    error: str | None
    infeasible_reason: str | None
    values: list[float | None] | None


class SweepSummary(BaseModel):
    id: str
    kind: str
    status: RunStatus
    strategy_id: int | None
    strategy_version: int | None
    strategy_name: str
    dataset: str
    method: str
    objectives: list[ObjectiveIn]
    trials_done: int
    trials_total: int | None
    trials_per_s: float
    eta_s: float | None
    best: list[SweepTrialOut] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: RunError | None


class SweepDetail(SweepSummary):
    code: str
    code_hash: str
    dataset_version: str
    dataset_hash: str
    ranges: list[str] = Field(description="The searched ranges in the CLI's text form.")
    constraints: dict[str, float | int | None]
    seed: int
    config: dict[str, Any]
    statistics: dict[str, Any] | None = Field(
        default=None, description="DSR, PBO and their meaning (app.research.overfitting)."
    )


class SweepTrialsPage(BaseModel):
    sweep_id: str
    total: int = Field(description="Trials stored so far.")
    offset: int
    trials: list[SweepTrialOut]


# -- walk-forwards ----------------------------------------------------------------------------

DURATION = r"^[1-9][0-9]{0,8}[wdhm]$"  # "180d", "36h", "90m", "2w"


class WalkForwardCreate(SweepCreate):
    """A walk-forward: the sweep's fields (its `trials` is the budget of each fold's sweep)
    plus the fold layout: `train` and `test` durations (optionally `step`), or `folds` equal
    test windows with a `train_ratio`; `anchored` keeps every train window's start fixed."""

    train: str | None = Field(default=None, pattern=DURATION, examples=["180d"])
    test: str | None = Field(default=None, pattern=DURATION, examples=["60d"])
    step: str | None = Field(default=None, pattern=DURATION, description="Default: `test`.")
    folds: int | None = Field(default=None, ge=1, le=1000)
    train_ratio: float | None = Field(default=None, gt=0, lt=1, allow_inf_nan=False)
    anchored: bool = False
    warmup_bars: int | None = Field(
        default=None,
        ge=0,
        le=10_000_000,
        description="Default: measured by probe runs of the first train window.",
    )
    min_is_trades: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="Acceptance: in-sample trades per fold."
    )
    min_efficiency: float | None = Field(
        default=None, allow_inf_nan=False, description="Acceptance: overall efficiency."
    )


class WalkForwardDetail(SweepDetail):
    """A walk-forward: `trials_done` / `trials_total` count folds; `statistics` holds its
    document (walkforward.json: folds, efficiency, parameter stability, stitched
    out-of-sample metrics, acceptance) once it has finished."""

    walk: dict[str, Any]
