"""Operator settings: the one reader of the environment (variables prefixed STRATEGYLAB_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Read once at start; safe with nothing set (the embedded default under ./data)."""

    model_config = SettingsConfigDict(env_prefix="STRATEGYLAB_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        default=REPO_ROOT / "data", description="Datasets, samples and the local store live here."
    )
    runs_dir: Path = Field(
        default=REPO_ROOT / "runs", description="Default parent folder of run output folders."
    )

    @field_validator("data_dir", "runs_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()


def load_settings() -> Settings:
    """The settings for this process (call once, at the edge, and pass the object on)."""
    return Settings()
