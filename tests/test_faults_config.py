"""Settings and database paths an admin gets wrong: a one-line error and the
documented exit code (7 for a setting, 6 for a database), never exit 70 and
never a new empty database where an existing one was meant."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from router import config
from router.errors import ConfigError
from tests.helpers import run_cli


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "callkeeper.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("decision_deadline_ms", "-1"),
        ("decision_deadline_ms", "0"),
        ("advise_targets", "0"),
        ("claim_ttl_seconds", "-5"),
        ("env_timeout_seconds", "-1"),
        ("ownership_lapse_days", "-3"),
        ("max_calls", "0"),
        ("stop_grace_seconds", "-1"),
        ("listen", "localhost"),
        ("listen", "127.0.0.1:99999"),
        ("listen", "127.0.0.1:http"),
        ("metrics", "bogus"),
        ("allow_peers", "10.0.0.300"),
        ("allow_peers", "10.0.0.0/33"),
        ("mode", "shout"),
        ("log_level", "LOUD"),
        ("log_format", "xml"),
    ],
)
def test_a_setting_out_of_range_is_refused_in_one_line(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config.load(None, environ={config.env_name(key): value})
    assert key in str(refused.value)
    assert "\n" not in str(refused.value)


def test_metrics_off_and_bracketed_ipv6_addresses_are_accepted() -> None:
    settings = config.load(
        None,
        environ={
            "CALLKEEPER_LISTEN": "[::1]:4573",
            "CALLKEEPER_METRICS": "off",
            "CALLKEEPER_ALLOW_PEERS": "::1,10.0.0.0/24",
        },
    )
    assert (settings.listen, settings.metrics) == ("[::1]:4573", "off")


def test_a_key_in_two_sections_is_refused(tmp_path: Path) -> None:
    path = _toml(tmp_path, "[agi]\nmax_calls = 10\n[operations]\nmax_calls = 20\n")
    with pytest.raises(ConfigError, match="max_calls"):
        config.load(path, environ={})


def test_a_setting_of_the_wrong_type_in_the_file_is_refused(tmp_path: Path) -> None:
    path = _toml(tmp_path, '[agi]\nmax_calls = "many"\nallow_peers = "10.0.0.1"\n')
    with pytest.raises(ConfigError, match="max_calls"):
        config.load(path, environ={})


def test_serve_with_a_bad_setting_exits_7_not_70(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.cli.main import main

    monkeypatch.chdir(tmp_path)
    for env, value in [("CALLKEEPER_MAX_CALLS", "0"), ("CALLKEEPER_LISTEN", "localhost")]:
        monkeypatch.setenv(env, value)
        assert main(["serve", "--db", str(tmp_path / "x.db"), "--metrics", "off"]) == 7
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
        monkeypatch.delenv(env)
    assert main(["serve", "--db", str(tmp_path / "x.db"), "--metrics", "bogus"]) == 7


def test_a_mistyped_db_path_creates_no_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    typo = tmp_path / "typo.db"
    result = run_cli(capsys, str(typo), "household", "show", "+79161234567")
    assert result.code == 6
    assert "does not exist" in result.err
    assert not typo.exists()


def test_db_upgrade_creates_a_new_database(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    result = run_cli(capsys, str(new), "db", "upgrade")
    assert result.code == 0, result.err
    assert new.exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o640), (0o027, 0o640), (0o077, 0o600)])
def test_a_new_sqlite_file_is_not_world_readable_and_honours_the_umask(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, umask: int, mode: int
) -> None:
    new = tmp_path / "new.db"
    old = os.umask(umask)
    try:
        assert run_cli(capsys, str(new), "db", "upgrade").code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(new.stat().st_mode) == mode


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the mode says")
def test_an_unreadable_database_file_says_what_is_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "ck.db"
    assert run_cli(capsys, str(path), "db", "upgrade").code == 0
    path.chmod(0)
    result = run_cli(capsys, str(path), "household", "show", "+79161234567")
    assert result.code == 6
    assert "permission" in result.err.lower() and str(path) in result.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the mode says")
def test_a_read_only_folder_says_what_is_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "ck.db"
    assert run_cli(capsys, str(path), "db", "upgrade").code == 0
    folder.chmod(0o555)
    try:
        result = run_cli(capsys, str(path), "household", "show", "+79161234567")
    finally:
        folder.chmod(0o755)
    assert result.code == 6
    assert "folder" in result.err and "writable" in result.err


def test_the_postgresql_guide_says_what_the_pool_does() -> None:
    from router.storage.db import make_engine

    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    guide = (Path(__file__).parent.parent / "deploy" / "postgres" / "README.md").read_text(encoding="utf-8")
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    checked = bool(getattr(engine.pool, "_pre_ping", False))
    assert checked is False
    assert "each pooled connection is checked before" not in guide
    assert "are **not** checked before" in guide and "without a pre-ping" in readme
