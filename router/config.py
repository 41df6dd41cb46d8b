"""Settings, layered: built-in defaults, a TOML file, CALLKEEPER_* variables, flags.

Every key the outside world can set is declared once, in `FIELDS`; the example
file `deploy/callkeeper.toml` documents the same keys.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from identity.numbers import is_region
from router.errors import ConfigError

ENV_PREFIX = "CALLKEEPER_"
DEFAULT_DB_URL = "sqlite:///callkeeper.db"


@dataclass(frozen=True)
class Settings:
    """One process's configuration; see deploy/callkeeper.toml for each key."""

    db: str = DEFAULT_DB_URL
    region: str = "RU"
    default_office: str = ""
    # The call front (agi).
    listen: str = "127.0.0.1:4573"
    mode: str = "dial"
    allow_peers: tuple[str, ...] = ()
    max_calls: int = 256
    env_timeout_seconds: float = 2.0
    decision_deadline_ms: int = 300
    advise_targets: int = 3
    ring_budget_seconds: int = 90
    stop_grace_seconds: float = 30.0
    # Routing.
    claim_ttl_seconds: int = 300
    ownership_lapse_days: int = 0
    # Operations.
    metrics: str = "127.0.0.1:9464"
    log_level: str = "INFO"
    log_format: str = "text"
    spool_dir: str = "spool"
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


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
    if not is_region(settings.region):
        raise ConfigError(f"setting region: {settings.region!r} is not a region code such as RU or DE")
    return settings


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        # Sections ([agi], [router], ...) only group keys for the reader.
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
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
