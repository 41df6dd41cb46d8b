"""The deploy/ folder is used as is by an Asterisk admin: every name it uses
must be one the code really has, or the dialplan silently falls back, an alert
never fires, a panel stays empty.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.pool import QueuePool

from agi import variables as var
from router import config
from router.metrics import Metrics
from router.storage.db import make_engine

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DIALPLAN = DEPLOY / "asterisk" / "extensions.conf"
SETTINGS = DEPLOY / "callkeeper.toml"
UNIT = DEPLOY / "systemd" / "callkeeper.service"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana" / "callkeeper.json"
PROMTOOL = shutil.which("promtool")
# Series Prometheus adds to every scrape, not exported by Callkeeper.
SCRAPE_SERIES = {"up"}
SCRAPE_LABELS = {"instance", "job"}


def _dialplan_lines() -> list[str]:
    """The dialplan without its comments (Asterisk comments start with `;`)."""
    lines = DIALPLAN.read_text(encoding="utf-8").splitlines()
    return [line.split(";", 1)[0].rstrip() for line in lines if line.split(";", 1)[0].strip()]


def test_dialplan_names_only_variables_the_server_uses() -> None:
    constants = {var.STATUS, var.ROUTE, var.DECISION, var.COUNT, var.AGENT}
    constants |= {var.AGI_GLOBAL, var.AGI_SPARE_GLOBAL, var.LINE_GLOBAL}
    prefixes = (var.TARGET_PREFIX, var.TIMEOUT_PREFIX, f"{var.AGENT}_")
    text = DIALPLAN.read_text(encoding="utf-8")
    names = set(re.findall(r"CALLKEEPER_[A-Za-z0-9_]*", text))
    assert names, "the dialplan uses no Callkeeper variable at all"
    for name in names:
        indexed = any(name.startswith(p) and re.fullmatch(r"[0-9n]*", name[len(p) :]) for p in prefixes)
        assert name in constants or indexed, f"{name} is not a name from agi/variables.py"
    code = "\n".join(_dialplan_lines())
    dial = f"Dial(${{{var.TARGET_PREFIX}${{CK_N}}}},${{{var.TIMEOUT_PREFIX}${{CK_N}}}},"
    assert dial + "gU(callkeeper-answered^${CK_AGI}^" in code
    assert f"AGI(${{ARG1}}/{var.SCRIPT_OUTCOME},${{ARG2}},${{ARG3}},{var.OUTCOME_ANSWERED})" in code


def test_dialplan_compares_status_with_known_values_only() -> None:
    code = "\n".join(_dialplan_lines())
    compared = re.findall(r'"\$\{' + var.STATUS + r'\}" *!?= *"(\w+)"', code)
    assert set(compared) == {var.Status.ANSWERED, var.Status.ADVISED}
    assert set(compared) <= {s.value for s in var.Status}


def test_dialplan_calls_the_route_and_outcome_scripts() -> None:
    code = "\n".join(_dialplan_lines())
    scripts = re.findall(r"AGI\(\$\{CK_AGI\}/(\w+)", code)
    assert set(scripts) == {var.SCRIPT_ROUTE, var.SCRIPT_OUTCOME}
    assert f"/{var.SCRIPT_OUTCOME},${{{var.DECISION}}},${{CK_N}})" in code
    assert "agi://127.0.0.1:4573" in code


def test_dialplan_sets_hangup_behaviour_before_the_first_agi() -> None:
    lines = _dialplan_lines()
    first_agi = next(i for i, line in enumerate(lines) if "AGI(" in line)
    settings = [line for line in lines[:first_agi] if "Set(AGI" in line]
    assert any("Set(AGISIGHUP=yes)" in line for line in settings)
    assert any("Set(AGIEXITONHANGUP=no)" in line for line in settings)


def test_dialplan_falls_back_to_the_queue_unless_answered() -> None:
    """Anything but ANSWERED or ADVISED after the route script reaches Queue()."""
    lines = _dialplan_lines()
    decided = next(i for i, line in enumerate(lines) if "(decided)" in line)
    branch = lines[decided : decided + 4]
    assert "?done)" in branch[0] and var.Status.ANSWERED in branch[0]
    assert "?advise)" in branch[1]
    assert "(queue)" in branch[2]
    assert "Queue(" in branch[3]
    assert any(line.startswith("exten => h,") for line in lines)


def test_settings_example_loads_and_names_every_setting() -> None:
    settings = config.load(SETTINGS, environ={})
    with SETTINGS.open("rb") as fh:
        sections = tomllib.load(fh)
    assert set(sections) == {"database", "agi", "routing", "leads", "operations", "console"}
    keys = [key for section in sections.values() for key in section]
    assert sorted(keys) == sorted(config.FIELDS)
    text = SETTINGS.read_text(encoding="utf-8")
    for key in config.FIELDS:
        assert config.env_name(key) in text, f"{key}: its environment variable is not documented"
    assert settings.mode in ("dial", "advise")


def test_settings_example_keeps_the_defaults_but_its_paths() -> None:
    settings = config.load(SETTINGS, environ={})
    changed = {k for k in config.FIELDS if getattr(settings, k) != config.FIELDS[k].default}
    assert changed == {"db", "spool_dir"}
    assert settings.db.startswith("sqlite:////var/lib/callkeeper/")
    assert settings.spool_dir.startswith("/var/lib/callkeeper/")


def _unit() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "min" else 1)


def test_systemd_unit_runs_serve_as_its_own_user_with_hardening() -> None:
    unit = _unit()
    assert unit["User"] == ["callkeeper"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["CapabilityBoundingSet"] == [""]
    assert unit["StateDirectory"] == ["callkeeper"]
    (exec_start,) = unit["ExecStart"]
    assert exec_start.split()[:2] == ["/opt/callkeeper/.venv/bin/callkeeper", "serve"]
    assert "--config /etc/callkeeper/callkeeper.toml" in exec_start


def test_systemd_waits_longer_than_the_stop_grace_and_lets_the_state_be_written() -> None:
    unit = _unit()
    settings = config.load(SETTINGS, environ={})
    assert unit["KillSignal"] == ["SIGTERM"]
    assert _seconds(unit["TimeoutStopSec"][0]) > settings.stop_grace_seconds
    writable = [Path(p) for paths in unit["ReadWritePaths"] for p in paths.split()]
    for path in (settings.db.removeprefix("sqlite:///"), settings.spool_dir):
        assert any(Path(path).is_relative_to(w) for w in writable), path


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """Every key known to systemd (a misspelt hardening option is silently ignored)."""
    # verify insists that ExecStart's program exists: stand in this interpreter for it.
    unit = tmp_path / UNIT.name
    text = UNIT.read_text(encoding="utf-8")
    unit.write_text(text.replace("/opt/callkeeper/.venv/bin/callkeeper", sys.executable), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def _exported() -> dict[str, set[str]]:
    """Every series name a fresh process exports, with its label names."""
    names: dict[str, set[str]] = {}
    for family in Metrics().registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _exported_samples() -> list[tuple[str, dict[str, str]]]:
    return [(s.name, s.labels) for f in Metrics().registry.collect() for s in f.samples]


def _promql_series(expr: str) -> set[str]:
    """The series names a PromQL expression reads: what is left once strings,
    label matchers, ranges, groupings, function names and keywords are gone."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\b[a-z_]+\s*\(", "(", expr)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", re.sub(r"(?<![\w.])\d+(?:\.\d+)?", " ", expr)))
    return words - {"and", "or", "unless", "bool", "offset"}


def _promql_labels(expr: str) -> set[str]:
    grouped = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr)
    matched = re.findall(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"", " ".join(re.findall(r"\{[^}]*\}", expr)))
    return {name.strip() for group in grouped for name in group.split(",") if name.strip()} | set(matched)


def _check_promql(expr: str) -> None:
    """Every series and label the expression names exists, every label value
    it selects with `=` is one a fresh process exports (label values are made
    up front, offices aside, which depend on the directory)."""
    exported = _exported()
    series = _promql_series(expr)
    assert series, f"no series in {expr!r}"
    unknown = series - set(exported) - SCRAPE_SERIES
    assert not unknown, f"{sorted(unknown)} not exported (router/metrics.py) in {expr!r}"
    labels = set().union(*exported.values()) | SCRAPE_LABELS | {"le"}
    assert _promql_labels(expr) <= labels, f"unknown label in {expr!r}"
    samples = _exported_samples()
    for name, matchers in re.findall(r"(callkeeper_\w+)\{([^}]*)\}", expr):
        for label, value in re.findall(r'(\w+)\s*=\s*"([^"]*)"', matchers):
            if label in SCRAPE_LABELS or label == "office" or value.startswith("$"):
                continue
            assert any(n == name and lb.get(label) == value for n, lb in samples), (
                f"{name}{{{label}={value!r}}}"
            )


def _alert_rules() -> list[dict[str, str]]:
    with (PROMETHEUS / "alerts.yml").open(encoding="utf-8") as fh:
        groups = yaml.safe_load(fh)["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promql_checker_refuses_what_does_not_exist() -> None:
    """The checker below is only as good as its refusals."""
    _check_promql("sum by (le) (rate(callkeeper_decision_duration_seconds_bucket[5m])) > 0.05")
    for bad in (
        "rate(callkeeper_decisions[5m])",
        "callkeeper_ready_total == 0",
        "sum by (agent) (rate(callkeeper_decisions_total[5m]))",
        'rate(callkeeper_owner_calls_total{outcome="answered"}[1h])',
        "node_load1 > 1 and on() callkeeper_ready == 0",
    ):
        with pytest.raises(AssertionError):
            _check_promql(bad)


def test_alert_rules_name_only_exported_metrics() -> None:
    rules = _alert_rules()
    names = {rule["alert"] for rule in rules}
    assert {
        "CallkeeperFailOpenRateHigh",
        "CallkeeperNoDecisions",
        "CallkeeperDecisionLatencyHigh",
        "CallkeeperOwnerHitRateLow",
        "CallkeeperDatabaseNotReady",
        "CallkeeperDown",
    } <= names
    for rule in rules:
        _check_promql(rule["expr"])
        assert rule["annotations"]["summary"], rule["alert"]


def test_scrape_config_names_the_rule_file_and_the_default_metrics_port() -> None:
    with (PROMETHEUS / "prometheus.yml").open(encoding="utf-8") as fh:
        scrape = yaml.safe_load(fh)
    assert scrape["rule_files"] == ["alerts.yml"]
    (job,) = [j for j in scrape["scrape_configs"] if j["job_name"] == "callkeeper"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert config.Settings().metrics in targets


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)")
@pytest.mark.parametrize(
    "argv",
    [
        ("check", "rules", "alerts.yml"),
        ("check", "config", "prometheus.yml"),
        ("test", "rules", "alerts_test.yml"),
    ],
    ids=["check-rules", "check-config", "test-rules"],
)
def test_alert_rules_pass_promtool(argv: tuple[str, ...]) -> None:
    """promtool test rules feeds synthetic series to each alert and checks it
    fires when it must (the working-hours condition included) and not otherwise."""
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, *argv], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _dashboard() -> dict[str, Any]:
    with GRAFANA.open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def _grafana_exprs() -> list[str]:
    return [t["expr"] for panel in _dashboard()["panels"] for t in panel["targets"]]


def test_dashboard_panels_query_exported_metrics_through_the_datasource_variable() -> None:
    dashboard = _dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {
        "Calls by route",
        "Owner hit rate per office",
        "Decision latency",
        "Answered by",
        "Fail-opens by reason",
        "Active AGI sessions",
        "Agents by state",
    } <= titles
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
            _check_promql(t["expr"])


def test_dashboard_latency_panel_shows_p50_p95_p99_and_routes_stack() -> None:
    panels = {panel["title"]: panel for panel in _dashboard()["panels"]}
    quantiles = [
        re.match(r"histogram_quantile\(([\d.]+),", t["expr"]) for t in panels["Decision latency"]["targets"]
    ]
    assert [float(m[1]) for m in quantiles if m] == [0.5, 0.95, 0.99]
    routes = panels["Calls by route"]
    assert routes["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    assert "sum by (route) (rate(callkeeper_decisions_total" in routes["targets"][0]["expr"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus)")
def test_dashboard_queries_parse_with_promtool(tmp_path: Path) -> None:
    """promtool has no expression checker, but it parses recording rules: one per query,
    with Grafana's variables replaced by what Grafana would put there."""
    assert PROMTOOL is not None
    grafana_vars = {"$__rate_interval": "1m", "$__range": "1d", "$office": ".*"}
    rules = []
    for n, expr in enumerate(_grafana_exprs()):
        for name, value in grafana_vars.items():
            expr = expr.replace(name, value)
        assert "$" not in expr, expr
        rules.append({"record": f"callkeeper:grafana_query_{n}", "expr": expr})
    path = tmp_path / "grafana_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}), encoding="utf-8")
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_postgres_guide_states_the_pool_the_code_opens() -> None:
    """max_connections sizing in deploy/postgres/README.md follows router/storage/db.py's pool."""
    engine = make_engine("postgresql+psycopg://callkeeper:x@127.0.0.1:1/callkeeper")
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    per_process = pool.size() + pool._max_overflow
    guide = (DEPLOY / "postgres" / "README.md").read_text(encoding="utf-8")
    assert f"pool_size={pool.size()}, max_overflow={pool._max_overflow}" in guide
    assert f"at most **{per_process}** connections per process" in guide
    assert f"nodes × {per_process} + admin sessions" in guide
    assert "callkeeper db upgrade" in guide
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_example_settings_run_serve_whose_metrics_carry_every_series_alerted_on(tmp_path: Path) -> None:
    """`callkeeper serve --config deploy/callkeeper.toml`, paths and ports moved by
    environment variables as an admin would: it starts, its /metrics exposes every
    series the alerts and the dashboard read, and SIGTERM stops it cleanly."""
    metrics = f"127.0.0.1:{_free_port()}"
    env = {
        **os.environ,
        config.env_name("db"): f"sqlite:///{tmp_path / 'callkeeper.db'}",
        config.env_name("spool_dir"): str(tmp_path / "spool"),
        config.env_name("listen"): f"127.0.0.1:{_free_port()}",
        config.env_name("metrics"): metrics,
    }
    serve = Path(sys.executable).with_name("callkeeper")
    proc = subprocess.Popen(
        [str(serve), "serve", "--config", str(SETTINGS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # /readyz: 503 until every worker of the node listens.
                if _get(f"http://{metrics}/healthz")[0] == 200 and _get(f"http://{metrics}/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.1)
        assert _get(f"http://{metrics}/readyz")[0] == 200
        status, body = _get(f"http://{metrics}/metrics")
        assert status == 200
        exposed = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if not line.startswith("#")}
        queried = {name for rule in _alert_rules() for name in _promql_series(rule["expr"])}
        queried |= {name for expr in _grafana_exprs() for name in _promql_series(expr)}
        assert queried - SCRAPE_SERIES <= exposed
        assert "callkeeper_ready 1.0" in body
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
