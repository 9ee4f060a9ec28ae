"""Operator settings: the one reader of the environment (variables prefixed STRATEGYLAB_)."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_NAMES = frozenset({"localhost"})


class Settings(BaseSettings):
    """Read once at start; safe with nothing set (the embedded default under ./data)."""

    model_config = SettingsConfigDict(env_prefix="STRATEGYLAB_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        default=REPO_ROOT / "data", description="Datasets, samples and the local store live here."
    )
    runs_dir: Path = Field(
        default=REPO_ROOT / "runs", description="Default parent folder of run output folders."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means the SQLite file <data_dir>/strategylab.db. "
        "Also read from DATABASE_URL.",
        validation_alias=AliasChoices("database_url", "STRATEGYLAB_DATABASE_URL", "DATABASE_URL"),
    )
    host: str = Field(default="127.0.0.1", description="Address `strategylab serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `strategylab serve` binds.")
    access_token: str | None = Field(
        default=None,
        min_length=16,
        description="When set, every API and websocket request must carry it. Required (and "
        "generated when missing) when binding anything but loopback.",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=256,
        description="Sandbox worker processes running backtests at the same time.",
    )
    upload_max_bytes: int = Field(
        default=256 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest strategy file."
    )
    max_wall_seconds: float = Field(
        default=3600.0, gt=0, description="Longest wall-clock time a run may ask for."
    )
    max_cpu_seconds: float = Field(default=3600.0, gt=0, description="Most CPU a run may ask for.")
    max_memory_mb: int = Field(
        default=16_384, ge=256, description="Most memory (MB) a run may ask for."
    )
    examples_dir: Path = Field(
        default=REPO_ROOT / "strategies_examples", description="Example strategies shown in the UI."
    )

    @field_validator("data_dir", "runs_dir", "examples_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        """`database_url`, or the embedded SQLite file under `data_dir`."""
        return self.database_url or f"sqlite:///{self.data_dir / 'strategylab.db'}"

    @property
    def is_loopback(self) -> bool:
        """True when `host` is only reachable from this machine."""
        if self.host in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def load_settings() -> Settings:
    """The settings for this process (call once, at the edge, and pass the object on)."""
    return Settings()
