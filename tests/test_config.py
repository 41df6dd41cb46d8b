"""Settings layering: defaults < TOML file < CALLKEEPER_* environment < flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from router import config
from router.config import Settings
from router.errors import ConfigError
from tests.helpers import run_cli


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callkeeper.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_environment_or_flags() -> None:
    settings = config.load(None, environ={})
    assert settings == Settings()
    assert (settings.db, settings.region, settings.max_calls) == ("sqlite:///callkeeper.db", "RU", 256)


def test_file_overrides_defaults_and_sections_only_group_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'region = "DE"\n[agi]\nlisten = "0.0.0.0:4573"\nmax_calls = 10\n'
        'allow_peers = ["10.0.0.1", "10.0.0.2"]\n',
    )
    settings = config.load(path, environ={})
    assert settings.region == "DE"
    assert settings.listen == "0.0.0.0:4573"
    assert settings.max_calls == 10
    assert settings.allow_peers == ("10.0.0.1", "10.0.0.2")
    assert settings.db == config.DEFAULT_DB_URL


def test_environment_overrides_file_and_flags_override_environment(tmp_path: Path) -> None:
    path = write(tmp_path, 'db = "sqlite:///file.db"\nregion = "DE"\nmax_calls = 10\n')
    environ = {
        "CALLKEEPER_DB": "sqlite:///env.db",
        "CALLKEEPER_MAX_CALLS": "20",
        "CALLKEEPER_ALLOW_PEERS": "10.0.0.1, 10.0.1.0/24,",
    }
    settings = config.load(path, environ=environ)
    assert (settings.db, settings.region, settings.max_calls) == ("sqlite:///env.db", "DE", 20)
    assert settings.allow_peers == ("10.0.0.1", "10.0.1.0/24")
    flagged = config.load(path, environ=environ, overrides={"db": "sqlite:///flag.db", "region": None})
    assert (flagged.db, flagged.region) == ("sqlite:///flag.db", "DE")


def test_the_file_can_come_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, 'region = "KZ"\n')
    assert config.load(None, environ={"CALLKEEPER_CONFIG": str(path)}).region == "KZ"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region = \n", "config file .*callkeeper.toml: "),
        ('colour = "blue"\n[agi]\nshade = 1\n', "unknown key\\(s\\) colour, shade"),
        ('max_calls = "many"\n', "setting max_calls: 'many' is not a valid int"),
        ('region = "XX"\n', "setting region: 'XX' is not a region code"),
    ],
)
def test_a_bad_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, text), environ={})


def test_a_missing_file_or_bad_environment_value_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match="setting stop_grace_seconds: 'soon' is not a valid float"):
        config.load(None, environ={"CALLKEEPER_STOP_GRACE_SECONDS": "soon"})


def test_cli_reports_a_bad_config_with_exit_7(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path
) -> None:
    path = write(tmp_path, "colour = 1\n")
    result = run_cli(capsys, db_url, "office", "list", "--config", str(path))
    assert (result.code, result.err) == (7, f"error: config file {path}: unknown key(s) colour\n")


def test_cli_takes_the_database_from_the_environment_and_region_from_the_file(
    capsys: pytest.CaptureFixture[str], db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.cli.main import main

    monkeypatch.setenv("CALLKEEPER_DB", db_url)
    path = write(tmp_path, 'region = "DE"\n')
    capsys.readouterr()
    assert main(["--config", str(path), "--actor", "t", "household", "add", "--number", "030 1234567"]) == 0
    assert main(["household", "show", "+49301234567", "--json"]) == 0
    assert '"+49301234567"' in capsys.readouterr().out
