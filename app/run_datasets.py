"""The datasets a command line names for a run: `--data PATH`, or `--data SYMBOL=PATH`, given
once per symbol for a run over several symbols in one account (the first is the primary,
the strategy's `self.data`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_SYMBOL: Final = re.compile(r"[A-Z0-9][A-Z0-9_.:-]{0,31}")
"""A symbol as a command line may give it before `=` (BTCUSDT, ETH-PERP, 1000PEPEUSDT)."""


class DatasetOptionError(ValueError):
    """A `--data` value that names no usable dataset; the message is one sentence."""


@dataclass(frozen=True, slots=True)
class NamedDatasets:
    """The primary symbol and its file, and each further symbol's (symbol, file)."""

    symbol: str
    path: Path
    more: tuple[tuple[str, Path], ...] = ()


def parse_datasets(items: list[str], default_symbol: str) -> NamedDatasets:
    """`--data` values in order. The first's symbol is its `SYMBOL=` prefix or
    `default_symbol` (`--symbol`); a further one's is its prefix or, without one, its file
    name up to the first '-' or '.' in capitals (`ETHUSDT-1h.parquet` is ETHUSDT)."""
    if not items:
        raise DatasetOptionError("--data: name the bars to run on, e.g. --data BTCUSDT-1h.parquet")
    named = [_split(item) for item in items]
    symbol, path = named[0]
    more = tuple((given or _symbol_of(other), other) for given, other in named[1:])
    return NamedDatasets(symbol or default_symbol, path, more)


def _split(item: str) -> tuple[str | None, Path]:
    """(the `SYMBOL=` prefix or None, the path)."""
    prefix, sep, rest = item.partition("=")
    if sep and _SYMBOL.fullmatch(prefix):
        if not rest:
            raise DatasetOptionError(f"--data {item!r}: give a file after '=', e.g. {prefix}=FILE")
        return prefix, Path(rest)
    return None, Path(item)


def _symbol_of(path: Path) -> str:
    stem = re.split(r"[-.]", path.name, maxsplit=1)[0].upper()
    if not _SYMBOL.fullmatch(stem):
        raise DatasetOptionError(
            f"--data {path}: the file name names no symbol; write it as SYMBOL={path}"
        )
    return stem
