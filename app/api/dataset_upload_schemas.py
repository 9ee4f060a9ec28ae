"""Response bodies of the dataset upload routes (`app.api.routes.dataset_uploads`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.api.schemas import DatasetOut


class UploadProblemOut(BaseModel):
    """One problem found in the uploaded rows, as `strategylab data import` prints it."""

    code: str = Field(description="Stable problem code, e.g. `gap`, `duplicate_bars`.")
    severity: Literal["error", "warning"] = Field(
        description="An error refuses storing; a warning is kept with the dataset."
    )
    message: str
    count: int = Field(description="Bars concerned.")
    first_time: str | None = Field(description="First bar concerned, ISO 8601 UTC.")
    last_time: str | None = Field(description="Last bar concerned, ISO 8601 UTC.")


class DatasetUploadOut(BaseModel):
    """A staged upload and the validation report of its rows; nothing is stored yet."""

    id: str = Field(description="Names the upload in .../store and DELETE.")
    file_name: str
    size_bytes: int
    expires_at: datetime = Field(description="After this (UTC) the upload is discarded.")
    dataset: str | None = Field(
        description="SYMBOL/TIMEFRAME it would be stored as; null while a field is missing."
    )
    symbol: str | None
    timeframe: str | None
    kind: Literal["ohlcv", "funding", "mark"]
    rows: int
    first_bar: datetime | None
    last_bar: datetime | None
    gap_bars: int = Field(description="Bars missing inside the range, over all gaps.")
    duplicate_bars: int = Field(description="Bars whose time appears more than once.")
    summary: str = Field(description="How many fatal problems and warnings, in one sentence.")
    problems: list[UploadProblemOut] = Field(description="Fatal problems first.")
    columns: list[str] = Field(description="The file's header as found.")
    mapping: dict[str, str] = Field(description="Found column -> standard column read from it.")
    missing: list[str] = Field(description="What must still be given before storing.")
    is_storable: bool = Field(description="True when Store would succeed now.")


class DatasetStoredOut(BaseModel):
    """What storing an upload did."""

    dataset: DatasetOut
    is_new_version: bool = Field(description="False when the store already held exactly this.")
    summary: str = Field(description="The stored rows' validation summary.")
