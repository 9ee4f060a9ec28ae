"""The command line of a run, shared by every command that runs a strategy (`strategylab run`,
`optimize`, `walkforward`, ...): the run's options, its period and the sandbox limits as typer
options, and the one sentence and exit code each failure of a run prints as.

The options are written once (`_run_option_template`) and added to a command's signature by
`with_run_options`, so every command takes the same flags with the same help (unit, bounds and
default from RunConfig's field table) and turns them into the same RunOrder.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console

from app.data.errors import DataError
from app.deferred_imports import deferred
from app.engine import ConfigError, EngineError, Mode, StrategyRuntimeError
from app.engine.config import FIELDS_BY_NAME, OPTION_FIELDS
from app.runs import InvalidRunRequestError, RunOrder, StrategyLoadError
from app.terminal import markup_lines, terminal_text
from sandbox import LimitExceeded, LimitsRefused, RunLimits, SandboxError, StrategyRejected

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

EXIT_BAD_INPUT: Final = 2
EXIT_STRATEGY_FAILED: Final = 1
DEFAULTS: Final = {spec.name: spec.default for spec in FIELDS_BY_NAME.values()}
DEFAULT_LIMITS: Final = RunLimits()
RUN_OPTIONS_KEYWORD: Final = "run_options"


def fail(message: str, code: int) -> typer.Exit:
    """Print `message` (which may carry strategy text: escaped line by line); the Exit to
    raise."""
    Console(stderr=True).print(
        f"[red]error:[/red] {markup_lines(message)}", highlight=False, soft_wrap=True, emoji=False
    )
    return typer.Exit(code)


def parse_time(text: str | None, field_name: str) -> int | None:
    """An ISO date/time (UTC if naive) as epoch ns; None passes through."""
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InvalidRunRequestError(
            field_name, f"{text!r} is not a date such as 2023-06-01 or 2023-06-01T12:00"
        ) from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The run options of one command line: RunConfig option fields by name, the period as
    typed (ISO text), the symbol of the data and the sandbox limits."""

    options: dict[str, Any]
    start: str | None
    end: str | None
    symbol: str
    limits: RunLimits
    tiers: Path | None = None
    column_pairs: tuple[str, ...] = ()  # --map SOURCE=TARGET as typed

    def order(self, params: Mapping[str, object] | None = None) -> RunOrder:
        """The RunOrder of these options with `params` overrides (InvalidRunRequestError for
        a period that is not a date)."""
        return RunOrder(
            options=dict(self.options),
            start=parse_time(self.start, "start"),
            end=parse_time(self.end, "end"),
            params=dict(params or {}),
            limits=self.limits,
            tiers=self.tiers,
            columns=parse_column_map(list(self.column_pairs)),
        )


# Shorter spellings of field flags, as the issue tracker and other tools write them.
FLAG_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "trading_days_per_year": ("--trading-days",),
    "risk_free_rate": ("--risk-free",),
}


def _option(name: str) -> Any:
    """A typer option for a RunConfig field: its flag (and FLAG_ALIASES) and help (unit,
    bounds, default) from the field table. Bounds are checked by RunConfig, so the message
    names the option."""
    spec = FIELDS_BY_NAME[name]
    return typer.Option(spec.flag, *FLAG_ALIASES.get(name, ()), help=spec.describe())


def parse_column_map(pairs: list[str] | None) -> dict[str, str]:
    """`--map SOURCE=TARGET` pairs as a column mapping (source column -> time, open, high,
    low, close or volume), as `strategylab data import --map` takes them;
    InvalidRunRequestError("map") names a pair that is not SOURCE=TARGET."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        source, equals, target = pair.partition("=")
        if not equals or not source.strip() or target.strip().lower() not in MAP_TARGETS:
            raise InvalidRunRequestError(
                "map",
                f"takes SOURCE=TARGET with TARGET one of {', '.join(MAP_TARGETS)}, not {pair!r}",
            )
        mapping[source.strip()] = target.strip().lower()
    return mapping


MAP_TARGETS: Final = ("time", "open", "high", "low", "close", "volume")


def _run_option_template(
    start: Annotated[str | None, typer.Option(help="First traded bar, e.g. 2023-03-01.")] = None,
    end: Annotated[str | None, typer.Option(help="Last bar used, e.g. 2023-06-30T23:59.")] = None,
    mode: Annotated[Mode, _option("mode")] = DEFAULTS["mode"],
    margin_mode: Annotated[str, _option("margin_mode")] = DEFAULTS["margin_mode"],
    cash: Annotated[float, _option("cash")] = DEFAULTS["cash"],
    leverage_max: Annotated[float, _option("leverage_max")] = DEFAULTS["leverage_max"],
    fee_maker: Annotated[float, _option("fee_maker")] = DEFAULTS["fee_maker"],
    fee_taker: Annotated[float, _option("fee_taker")] = DEFAULTS["fee_taker"],
    slippage_bps: Annotated[float, _option("slippage_bps")] = DEFAULTS["slippage_bps"],
    funding_rate: Annotated[float, _option("funding_rate")] = DEFAULTS["funding_rate"],
    funding_interval_h: Annotated[int, _option("funding_interval_h")] = DEFAULTS[
        "funding_interval_h"
    ],
    trading_days_per_year: Annotated[int, _option("trading_days_per_year")] = DEFAULTS[
        "trading_days_per_year"
    ],
    risk_free_rate: Annotated[float, _option("risk_free_rate")] = DEFAULTS["risk_free_rate"],
    symbol: Annotated[str, typer.Option(help="Symbol name for the data.")] = DEFAULTS["symbol"],
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Read a column of --data under another name: SOURCE=TARGET, TARGET one of "
            "time, open, high, low, close, volume (repeatable; as on data import).",
        ),
    ] = None,
    tiers: Annotated[
        Path | None,
        typer.Option(
            help="Maintenance-tier table file (JSON, docs/engine.md); default: the symbol's "
            "latest imported or shipped table."
        ),
    ] = None,
    wall_seconds: Annotated[
        float, typer.Option(help="Wall-clock limit of the run, s.")
    ] = DEFAULT_LIMITS.wall_seconds,
    cpu_seconds: Annotated[
        float, typer.Option(help="CPU-time limit of the run, s.")
    ] = DEFAULT_LIMITS.cpu_seconds,
    memory_mb: Annotated[
        int, typer.Option(help="Memory the run may use, MB.")
    ] = DEFAULT_LIMITS.memory_mb,
) -> None:
    """The run options every running command takes (the signature is what counts)."""


RUN_OPTION_PARAMETERS: Final = tuple(
    parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
    for parameter in inspect.signature(_run_option_template, eval_str=True).parameters.values()
)
OPTION_NAMES: Final = frozenset(spec.name for spec in OPTION_FIELDS)
LIMIT_NAMES: Final = ("wall_seconds", "cpu_seconds", "memory_mb")


def _run_options(values: dict[str, Any]) -> RunOptions:
    return RunOptions(
        options={name: values[name] for name in values if name in OPTION_NAMES},
        start=values["start"],
        end=values["end"],
        symbol=values["symbol"],
        tiers=values["tiers"],
        column_pairs=tuple(values["column_map"] or ()),
        limits=RunLimits(**{name: values[name] for name in LIMIT_NAMES}),
    )


def with_run_options(command: Callable[..., None]) -> Callable[..., None]:
    """`command` with every run option added to its command line; `command` takes them as
    one RunOptions in its keyword parameter `run_options` (left out of the command line)."""
    own = inspect.signature(command, eval_str=True)
    names = {parameter.name for parameter in RUN_OPTION_PARAMETERS}

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        run_values = {name: values.pop(name) for name in names}
        command(**values, **{RUN_OPTIONS_KEYWORD: _run_options(run_values)})

    kept = [p for p in own.parameters.values() if p.name != RUN_OPTIONS_KEYWORD]
    signature = own.replace(parameters=[*kept, *RUN_OPTION_PARAMETERS])
    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    del wrapper.__wrapped__  # typer reads the signature above, not the command's own
    return wrapper


def option_flag(field: str) -> str:
    """The command-line flag of an input field (`params` is --param)."""
    return "--param" if field == "params" else "--" + field.replace("_", "-")


@contextmanager
def reported_run_errors(file: Path, out: Path | None) -> Iterator[None]:
    """Turn each failure of preparing or running a run into its one sentence and exit code
    (bad input: EXIT_BAD_INPUT; the strategy or its sandbox failed: EXIT_STRATEGY_FAILED)."""
    try:
        yield
    except StrategyRuntimeError as error:
        raise fail(f"the strategy failed: {error}", EXIT_STRATEGY_FAILED) from None
    except LimitExceeded as error:
        raise fail(f"the run was stopped: {error}", EXIT_STRATEGY_FAILED) from None
    except StrategyRejected as error:
        lines = "\n".join(
            terminal_text(d.format(str(file))) for d in error.diagnostics if d.is_error
        )
        raise fail(lines or str(error), EXIT_BAD_INPUT) from None
    except LimitsRefused as error:
        raise fail(str(error), EXIT_BAD_INPUT) from None
    except SandboxError as error:
        raise fail(f"the sandbox worker failed: {error}", EXIT_STRATEGY_FAILED) from None
    except (ConfigError, InvalidRunRequestError) as error:
        raise fail(f"{option_flag(error.field)}: {error.message}", EXIT_BAD_INPUT) from None
    except (StrategyLoadError, DataError, EngineError) as error:
        raise fail(str(error), EXIT_BAD_INPUT) from None
    except OSError as error:
        raise fail(f"cannot write to {out}: {error.strerror}", EXIT_BAD_INPUT) from None


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_STRATEGY_FAILED",
    "RunOptions",
    "fail",
    "option_flag",
    "parse_time",
    "reported_run_errors",
    "with_run_options",
]
