"""The deploy/ folder is used as is by an Asterisk admin: every name it uses
must be one the code really has, or the dialplan silently falls back, an alert
never fires, a panel stays empty.
"""

from __future__ import annotations

import re
from pathlib import Path

from agi import variables as var

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DIALPLAN = DEPLOY / "asterisk" / "extensions.conf"


def _dialplan_lines() -> list[str]:
    """The dialplan without its comments (Asterisk comments start with `;`)."""
    lines = DIALPLAN.read_text(encoding="utf-8").splitlines()
    return [line.split(";", 1)[0].rstrip() for line in lines if line.split(";", 1)[0].strip()]


def test_dialplan_names_only_variables_the_server_uses() -> None:
    constants = {var.STATUS, var.ROUTE, var.DECISION, var.COUNT, var.AGENT}
    prefixes = (var.TARGET_PREFIX, var.TIMEOUT_PREFIX, f"{var.AGENT}_")
    text = DIALPLAN.read_text(encoding="utf-8")
    names = set(re.findall(r"CALLKEEPER_[A-Za-z0-9_]*", text))
    assert names, "the dialplan uses no Callkeeper variable at all"
    for name in names:
        indexed = any(name.startswith(p) and re.fullmatch(r"[0-9n]*", name[len(p) :]) for p in prefixes)
        assert name in constants or indexed, f"{name} is not a name from agi/variables.py"
    code = "\n".join(_dialplan_lines())
    assert f"Dial(${{{var.TARGET_PREFIX}${{CK_N}}}},${{{var.TIMEOUT_PREFIX}${{CK_N}}}},g)" in code


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
