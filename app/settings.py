"""Operator settings: the one reader of the environment (variables prefixed STRATEGYLAB_)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.hostnames import (
    LOOPBACK_HOSTS,
    is_loopback_host,
    parse_host,
    parse_host_pattern,
    parse_origin,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and the name field of an upload
HostList = Annotated[tuple[str, ...], NoDecode]  # comma-separated in the environment


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
    accounts: Literal["auto", "on"] = Field(
        default="auto",
        description="Sign-in with accounts: 'auto' requires it on any bind but loopback, where "
        "a single local user is signed in automatically; 'on' requires it on loopback too.",
    )
    access_token: str | None = Field(
        default=None,
        exclude=True,
        description="Gone: replaced by accounts. Set, the server refuses to start and says so.",
    )
    session_idle_minutes: int = Field(
        default=12 * 60, ge=5, le=60 * 24 * 30, description="A session unused this long ends."
    )
    session_lifetime_hours: int = Field(
        default=7 * 24, ge=1, le=24 * 365, description="A session ends this long after sign-in."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Failed sign-ins per user name (4x per address) within "
        "`login_window_minutes` before further attempts wait.",
    )
    login_window_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="The window the sign-in limit counts in."
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
    allowed_hosts: HostList = Field(
        default=(),
        description="Host names (optionally name:port, or *.domain) the server answers to, "
        "comma-separated; unset means the loopback names and the bound address. Any other Host "
        "header is refused, which stops DNS rebinding.",
    )
    allowed_origins: HostList = Field(
        default=(),
        description="Extra origins (scheme://host[:port]) allowed to send state-changing "
        "requests, e.g. a TLS proxy's https origin; the server's own origin always is.",
    )
    request_max_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=8 * 1024,
        le=256 * 1024 * 1024,
        description="Largest request body (JSON or multipart) read; larger ones answer 413.",
    )
    dataset_upload_max_bytes: int = Field(
        default=200 * 1024 * 1024,
        ge=64 * 1024,
        le=16 * 1024 * 1024 * 1024,
        description="Largest dataset file uploaded from the UI (POST /api/datasets/uploads, "
        "streamed to disk); only that route reads more than `request_max_bytes`.",
    )
    max_active_runs_per_client: int = Field(
        default=8,
        ge=1,
        le=100_000,
        description="Runs one client (one network address until accounts exist) may have "
        "queued or running at once; more answer 429.",
    )
    exchange_api_key: SecretStr | None = Field(
        default=None,
        description="API key `strategylab data tiers fetch` signs with, for an exchange whose "
        "leverage tiers are private (Binance's); never printed or stored. A read-only key does.",
    )
    exchange_api_secret: SecretStr | None = Field(
        default=None, description="The secret of STRATEGYLAB_EXCHANGE_API_KEY."
    )
    exchange_api_password: SecretStr | None = Field(
        default=None, description="The passphrase some exchanges add to a key (OKX's)."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db of the run queue; set, runs go to `strategylab "
        "worker` processes on any machine through RQ (docs/deploy.md); unset, a local "
        "process pool runs them.",
    )
    quota_concurrent_runs: int = Field(
        default=8,
        ge=1,
        le=100_000,
        description="Default per-user quota: runs queued or running at once.",
    )
    quota_cpu_seconds_per_day: float = Field(
        default=86_400.0,
        gt=0,
        description="Default per-user quota: CPU-seconds of runs per UTC day.",
    )
    quota_storage_mb: int = Field(
        default=10_240,
        ge=1,
        description="Default per-user quota: MiB of datasets plus run folders.",
    )
    quota_sweep_trials: int = Field(
        default=10_000,
        ge=1,
        description="Default per-user quota: trials in one sweep.",
    )
    quota_concurrent_sweeps: int = Field(
        default=4,
        ge=1,
        le=100_000,
        description="Default per-user quota: sweeps (walk-forwards included) queued or "
        "running at once.",
    )
    lease_ttl_s: int = Field(
        default=10,
        ge=1,
        le=3_600,
        description="Seconds a worker's lease on a run or trial lives unless renewed (with "
        "STRATEGYLAB_REDIS_URL): a lost worker's run is queued again this long after its "
        "last renewal.",
    )
    lease_renew_s: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between a worker's lease renewals; under half the lease TTL.",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"{value!r} is not a Redis URL: write redis://[:password@]host:port/db "
                "(rediss:// for TLS, unix:///path/redis.sock)"
            )
        return value

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _host_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(parse_host_pattern(entry)) for entry in value)

    @field_validator("allowed_origins")
    @classmethod
    def _origin_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        origins = []
        for entry in value:
            parsed = parse_origin(entry)
            if parsed is None or parsed[0] not in ("http", "https"):
                raise ValueError(
                    f"{entry!r} is not an origin: write scheme://host[:port], e.g. "
                    "https://lab.example.com"
                )
            origins.append(f"{parsed[0]}://{parsed[1]}")
        return tuple(origins)

    @model_validator(mode="after")
    def _body_fits_an_upload(self) -> Settings:
        if self.request_max_bytes < self.upload_max_bytes + MULTIPART_OVERHEAD_BYTES:
            raise ValueError(
                f"request_max_bytes ({self.request_max_bytes:,}) must be at least "
                f"upload_max_bytes + {MULTIPART_OVERHEAD_BYTES:,} so that the largest "
                "strategy file can be uploaded"
            )
        return self

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> Settings:
        if not self.lease_renew_s < self.lease_ttl_s / 2:
            raise ValueError(
                f"STRATEGYLAB_LEASE_RENEW_S ({self.lease_renew_s:g} s) must be under half of "
                f"STRATEGYLAB_LEASE_TTL_S ({self.lease_ttl_s} s), so a lease is renewed at "
                "least twice before it would lapse: lower the renewal interval or raise the TTL"
            )
        return self

    @field_validator("access_token")
    @classmethod
    def _no_access_token(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError(
                "STRATEGYLAB_ACCESS_TOKEN was replaced by accounts: unset it, then sign in with "
                "the admin account `strategylab serve` prints once (or create one with "
                "`strategylab users create NAME --admin`); scripts use API tokens "
                "(`strategylab users token NAME`)"
            )
        return

    @property
    def requires_accounts(self) -> bool:
        """True when requests must sign in: any bind but loopback, or accounts='on'."""
        return self.accounts == "on" or not self.is_loopback

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
        return is_loopback_host(self.host)

    @property
    def trusted_hosts(self) -> tuple[str, ...]:
        """The Host allow-list in force: `allowed_hosts` when set, else the loopback names
        plus the bound address itself when it is one specific address or name."""
        if self.allowed_hosts:
            return self.allowed_hosts
        bound = parse_host(self.host) or parse_host(f"[{self.host}]")
        extra = () if self.host in WILDCARD_ADDRESSES or bound is None else (bound.name,)
        return tuple(dict.fromkeys((*LOOPBACK_HOSTS, *extra)))


def settings_problems(error: ValidationError) -> list[str]:
    """One sentence per refused setting, naming its variable (`setting STRATEGYLAB_X: ...`;
    a rule between settings names the variables itself): what a command prints instead of a
    traceback."""
    problems = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        problems.append(f"setting STRATEGYLAB_{field.upper()}: {message}" if field else message)
    return problems


def load_settings() -> Settings:
    """The settings for this process (call once, at the edge, and pass the object on)."""
    return Settings()
