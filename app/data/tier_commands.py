"""The `strategylab data tiers ...` commands: list and show the maintenance-tier tables, import
one from a file, fetch one from an exchange through ccxt."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from app.data.errors import DataError, DataFileError
from app.data.tier_fetch import ExchangeCredentials, fetch_tier_table, make_tier_exchange
from app.data.tiers import MAX_TIER_FILE_BYTES, TierCatalog, convert_exchange_tiers, read_tier_file
from app.engine.errors import ConfigError
from app.engine.tiers import TierTable
from app.settings import Settings, load_settings

tiers_app = typer.Typer(
    name="tiers",
    help="Maintenance-tier tables (dated, per symbol): list, show, import, fetch.",
    no_args_is_help=True,
)


def _catalog() -> TierCatalog:
    return TierCatalog(load_settings().data_dir)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@tiers_app.command("list")
def list_command(
    symbol: Annotated[str, typer.Option("--symbol", help="Only this symbol's tables.")] = "",
) -> None:
    """Every table a run may name with --tiers or `tiers` (imported ones first)."""
    catalog = _catalog()
    stored = catalog.stored()
    table = Table()
    for column in ("name", "where", "brackets", "max leverage", "sha256"):
        table.add_column(column, overflow="fold")
    for position, entry in enumerate(stored + catalog.shipped()):
        if symbol and entry.symbol != symbol.upper():
            continue
        table.add_row(
            entry.name,
            "imported" if position < len(stored) else "shipped",
            str(len(entry.tiers)),
            f"{entry.tiers[0].max_leverage:g}x",
            entry.sha256[:12],
        )
    Console(highlight=False, soft_wrap=True).print(table)


@tiers_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="A table name, or a symbol for its latest.")],
) -> None:
    """A table's source, snapshot and brackets."""
    try:
        entry = _catalog().find(name)
    except ValueError as error:
        raise _fail(str(error)) from None
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[bold]{entry.name}[/]  sha256:{entry.sha256}")
    console.print(f"source: {entry.source}")
    _print_brackets(console, entry)


def _print_brackets(console: Console, entry: TierTable) -> None:
    table = Table()
    for column in ("bracket", "notional from", "to", "maintenance rate", "amount (cum)", "max"):
        table.add_column(column, justify="right")
    floors = [tier.notional_floor for tier in entry.tiers[1:]] + [entry.notional_cap]
    for position, (tier, cap) in enumerate(zip(entry.tiers, floors, strict=True), start=1):
        table.add_row(
            str(position),
            f"{tier.notional_floor:,.0f}",
            f"{cap:,.0f}",
            f"{tier.maintenance_rate:.4%}",
            f"{tier.maintenance_amount:,.2f}",
            f"{tier.max_leverage:g}x",
        )
    console.print(table)


@tiers_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A table document, ccxt's or Binance's brackets.")],
    symbol: Annotated[
        str, typer.Option("--symbol", help="Symbol (needed for an exchange's brackets).")
    ] = "",
    snapshot_date: Annotated[
        str,
        typer.Option(
            "--snapshot-date",
            help="When the exchange published them (YYYY-MM-DD); today if omitted.",
        ),
    ] = "",
    exchange: Annotated[
        str, typer.Option("--exchange", help="Exchange and market, e.g. binance-usdtm.")
    ] = "binance-usdtm",
    source: Annotated[str, typer.Option("--source", help="Where the figures come from.")] = "",
) -> None:
    """Check a tier table and store it with the symbol's datasets; runs on the symbol use it.

    Takes a Strategy Lab table document as is, or an exchange's own answer (ccxt's
    `fetch_leverage_tiers()[symbol]` or Binance's `/fapi/v1/leverageBracket`), which needs
    --symbol and is dated --snapshot-date (or today)."""
    try:
        entry = _read_any(file, symbol, snapshot_date, exchange, source)
        path = _catalog().store(entry)
    except (DataError, ConfigError) as error:
        raise _fail(error.message if isinstance(error, ConfigError) else str(error)) from None
    typer.echo(f"stored {entry.label()} ({len(entry.tiers)} brackets) in {path}")


def _read_any(file: Path, symbol: str, snapshot: str, exchange: str, source: str) -> TierTable:
    if not file.is_file():
        raise DataFileError(f"{file} does not exist; check the path.", path=file)
    if file.stat().st_size > MAX_TIER_FILE_BYTES:
        raise DataFileError(f"{file} is over 1 MB; it is not a tier table.", path=file)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFileError(f"{file} is not JSON ({error}).", path=file) from None
    if isinstance(document, dict) and "format" in document:
        return read_tier_file(file)
    if not symbol:
        raise DataFileError(
            f"{file} holds an exchange's brackets; pass --symbol to say whose.", path=file
        )
    day = snapshot or datetime.now(UTC).date().isoformat()
    return convert_exchange_tiers(
        document,
        symbol=symbol,
        exchange=exchange,
        snapshot_date=day,
        source=source or f"{exchange} brackets imported from {file.name}",
    )


@tiers_app.command("fetch")
def fetch_command(
    exchange_id: Annotated[
        str, typer.Option("--exchange", help="ccxt exchange id, e.g. binanceusdm or bybit.")
    ],
    symbol: Annotated[
        str, typer.Option("--symbol", help="The perpetual as ccxt spells it: BTC/USDT:USDT.")
    ],
    table_exchange: Annotated[
        str,
        typer.Option(
            "--table-exchange",
            help="The table's exchange name (default: binance-usdtm for Binance, else the id).",
        ),
    ] = "",
) -> None:
    """Fetch a symbol's leverage tiers from an exchange (ccxt), dated today, and store them
    with the symbol's datasets; runs on the symbol use them. An exchange that gives its tiers
    only to a signed request (Binance) needs STRATEGYLAB_EXCHANGE_API_KEY and
    STRATEGYLAB_EXCHANGE_API_SECRET in the environment (never printed or stored)."""
    settings = load_settings()
    credentials = _credentials(settings)
    try:
        exchange = make_tier_exchange(exchange_id, credentials)
        entry = fetch_tier_table(
            exchange,
            symbol,
            credentials=credentials,
            fetched_at=datetime.now(UTC),
            table_exchange=table_exchange or None,
        )
        path = TierCatalog(settings.data_dir).store(entry)
    except (DataError, ConfigError) as error:
        raise _fail(error.message if isinstance(error, ConfigError) else str(error)) from None
    typer.echo(f"stored {entry.label()} ({len(entry.tiers)} brackets) in {path}")


def _credentials(settings: Settings) -> ExchangeCredentials:
    """The exchange key from the settings (STRATEGYLAB_EXCHANGE_API_*), revealed only here,
    for the ccxt client."""

    def plain(secret: SecretStr | None) -> str | None:
        return secret.get_secret_value() if secret is not None else None

    return ExchangeCredentials(
        api_key=plain(settings.exchange_api_key),
        secret=plain(settings.exchange_api_secret),
        password=plain(settings.exchange_api_password),
    )
