"""Settings, layered: built-in defaults, a TOML file, CALLKEEPER_* variables, flags.

Every key the outside world can set is declared once, in `FIELDS`; the example
file `deploy/callkeeper.toml` documents the same keys.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from identity.calibration import AUTO_THRESHOLD
from identity.numbers import is_region
from router.errors import ConfigError

ENV_PREFIX = "CALLKEEPER_"
DEFAULT_DB_URL = "sqlite:///callkeeper.db"
# `metrics` set to one of these serves no operations endpoint.
METRICS_OFF = ("", "off", "none")
MODES = ("dial", "advise")
LOG_FORMATS = ("text", "json")
CONSOLE_LANGUAGES = ("ru", "en")
# `serve` runs one worker process per core unless told otherwise.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Settings:
    """One process's configuration; see deploy/callkeeper.toml for each key."""

    db: str = DEFAULT_DB_URL
    region: str = "RU"
    default_office: str = ""
    timezone: str = "Europe/Moscow"
    # The call front (agi).
    listen: str = "127.0.0.1:4573"
    mode: str = "dial"
    allow_peers: tuple[str, ...] = ()
    max_calls: int = 256
    workers: int = 0  # 0: one per core (`worker_count`)
    env_timeout_seconds: float = 2.0
    decision_deadline_ms: int = 300
    advise_targets: int = 3
    ring_budget_seconds: int = 90
    stop_grace_seconds: float = 30.0
    # Routing.
    claim_ttl_seconds: int = 300
    ownership_lapse_days: int = 0
    # Suggestions: a best suggestion scoring this much may be applied without a person.
    suggest_auto_threshold: int = AUTO_THRESHOLD
    # Leads (orders from the website and CRMs).
    lead_sets_owner: bool = True
    lead_duplicate_hours: int = 72
    lead_api_rate_per_second: float = 20.0
    lead_api_burst: int = 40
    lead_api_max_bytes: int = 65536
    lead_webhook_every_seconds: float = 5.0
    lead_webhook_backoff_seconds: tuple[str, ...] = ("10", "60", "300", "1800", "7200")
    splits_count_leads: bool = False
    # Operations.
    metrics: str = "127.0.0.1:9464"
    log_level: str = "INFO"
    log_format: str = "text"
    spool_dir: str = "spool"
    # The web console (web).
    web_listen: str = "127.0.0.1:8080"
    console_language: str = "ru"
    web_tls: bool = False
    web_idle_minutes: int = 30
    web_session_hours: int = 12
    login_window_minutes: int = 15
    login_max_failures: int = 5
    login_max_address_failures: int = 20
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def worker_count(self) -> int:
        """Worker processes `serve` runs: `workers`, or one per core when it is 0."""
        return self.workers or CORES


FIELDS: dict[str, dataclasses.Field[Any]] = {
    f.name: f for f in dataclasses.fields(Settings) if f.name != "extra"
}


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def load(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from the file, then the environment, then `overrides`.

    `None` values in `overrides` mean "flag not given" and are ignored.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or environ.get(env_name("config"))
    if path:
        values.update(_read_file(Path(path)))
    for key in FIELDS:
        if env_name(key) in environ:
            values[key] = environ[env_name(key)]
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings(**{k: _coerce(k, v) for k, v in values.items()})
    check(settings)
    return settings


# Lowest value each number may take (a minimum of 0 allows 0, e.g. "off").
_MINIMUM: dict[str, float] = {
    "max_calls": 1,
    "workers": 0,
    "env_timeout_seconds": 0.001,
    "decision_deadline_ms": 1,
    "advise_targets": 1,
    "stop_grace_seconds": 0,
    "claim_ttl_seconds": 1,
    "ownership_lapse_days": 0,
    "lead_duplicate_hours": 0,
    "lead_api_rate_per_second": 0.001,
    "lead_api_burst": 1,
    "lead_api_max_bytes": 1024,
    "lead_webhook_every_seconds": 0.01,
}


# Highest value each number may take.
_MAXIMUM: dict[str, float] = {
    "workers": 64,
}


def check(settings: Settings) -> None:
    """Refuse a value the process could only misuse, in one line naming the key (exit 7).

    A negative deadline would fail every call open and a malformed address
    would end in an internal error at start-up: both are an admin's typo.
    """
    for key, minimum in _MINIMUM.items():
        value = getattr(settings, key)
        if value < minimum:
            raise ConfigError(f"setting {key}: {value!r} is below its minimum {minimum:g}")
    for key, maximum in _MAXIMUM.items():
        value = getattr(settings, key)
        if value > maximum:
            raise ConfigError(f"setting {key}: {value!r} is above its maximum {maximum:g}")
    if not is_region(settings.region):
        raise ConfigError(f"setting region: {settings.region!r} is not a region code such as RU or DE")
    if settings.mode not in MODES:
        raise ConfigError(f"setting mode: {settings.mode!r} is not one of {', '.join(MODES)}")
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(
            f"setting log_format: {settings.log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    if not isinstance(logging.getLevelName(settings.log_level.upper()), int):
        raise ConfigError(f"setting log_level: {settings.log_level!r} is not a logging level")
    address("listen", settings.listen)
    if settings.metrics.lower() not in METRICS_OFF:
        address("metrics", settings.metrics)
    for entry in settings.allow_peers:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"setting allow_peers: {entry!r} is not an address or network such as 10.0.0.5 or 10.0.1.0/24"
            ) from None
    if settings.console_language not in CONSOLE_LANGUAGES:
        raise ConfigError(
            f"setting console_language: {settings.console_language!r} "
            f"is not one of {', '.join(CONSOLE_LANGUAGES)}"
        )
    agency_zone(settings)
    webhook_backoff(settings)


def webhook_backoff(settings: Settings) -> tuple[int, ...]:
    """The waits, in seconds, before each further try of a webhook delivery."""
    try:
        waits = tuple(int(w) for w in settings.lead_webhook_backoff_seconds)
    except ValueError:
        waits = (-1,)
    if not waits or min(waits) < 0:
        raise ConfigError(
            f"setting lead_webhook_backoff_seconds: {list(settings.lead_webhook_backoff_seconds)!r} "
            "is not a list of waits in seconds such as [10, 60, 300]"
        )
    return waits


def address(key: str, text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets) as (host, port); ConfigError naming `key` otherwise."""
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535 or ("[" in host or "]" in host):
        raise ConfigError(f"setting {key}: {text!r} is not HOST:PORT such as 127.0.0.1:4573 or [::1]:4573")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError(f"setting {key}: {host!r} is not an IPv6 address") from None
    return host, int(port)


def agency_zone(settings: Settings) -> zoneinfo.ZoneInfo:
    """The agency's time zone: where "today" begins and ends for the ledger's readers."""
    try:
        return zoneinfo.ZoneInfo(settings.timezone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ConfigError(
            f"setting timezone: {settings.timezone!r} is not a time zone name such as Europe/Moscow"
        ) from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    flat: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, value in data.items():
        # Sections ([agi], [router], ...) only group keys for the reader; each key once.
        section = value if isinstance(value, dict) else {key: value}
        for name, item in section.items():
            here = f"[{key}]" if isinstance(value, dict) else "the top level"
            if name in flat:
                raise ConfigError(f"config file {path}: {name} is set twice, in {where[name]} and in {here}")
            flat[name], where[name] = item, here
    unknown = sorted(set(flat) - set(FIELDS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    return flat


def _coerce(key: str, value: Any) -> Any:
    if key not in FIELDS:
        raise ConfigError(f"unknown setting {key!r}")
    default = FIELDS[key].default
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
        if isinstance(value, bool | dict | list) and not isinstance(default, tuple):
            raise TypeError(key)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(v).strip() for v in items if str(v).strip())
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {key}: {value!r} is not a valid {type(default).__name__}") from None
