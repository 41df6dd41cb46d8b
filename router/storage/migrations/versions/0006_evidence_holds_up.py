"""Evidence that holds up: merges kept as pointers, ids never reused, the ledger append-only

- `household_merges`: a merged household's id points at the household it was
  merged into, so its calls and audit rows count for the survivor. Merges
  made before this revision deleted the merged row but left its audit row
  ("merge", household = the merged id, subject "into household N"): the
  pointers are rebuilt from those. A merged id that SQLite already handed to
  a new household cannot be told apart from that household's own calls: it
  gets no pointer (the merged family's calls stay under the reused id) and
  is logged; see the README, "Merges".
- `households` on SQLite is AUTOINCREMENT, its counter set past every id the
  ledger or the audit ever named, so a removed or merged id is never reused.
- `attempts.decision_id` no longer cascades a decision's delete.
- Triggers refuse UPDATE and DELETE of ledger rows (decisions, attempts,
  audit, household_merges) and TRUNCATE on PostgreSQL, as an integrity
  error (a refused write fails like a duplicate row). What the app writes
  later: `decisions.household_id`, from NULL only (a first call's answer puts
  the call in the household it created), and an attempt started but not yet
  ended (status UNKNOWN, written before its Dial): its status, ring and talk
  time and whom it covered for, once.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 15:00:00.000000
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_LEDGER = ("decisions", "attempts", "audit", "household_merges")

# What may change in a decision row: its household, once, from none.
_FIXED = ("id", "call_uid", "at", "number", "line", "office_id", "owner_id", "route", "then", "decide_ms")
_DECISION_CHANGED = " OR ".join(f'NEW."{c}" IS DISTINCT FROM OLD."{c}"' for c in _FIXED)
_ATTEMPT_FIXED = ("id", "decision_id", "seq", "agent_id", "reason", "started_at")
_ATTEMPT_CHANGED = " OR ".join(f'NEW."{c}" IS DISTINCT FROM OLD."{c}"' for c in _ATTEMPT_FIXED)
_STARTED = "UNKNOWN"


def upgrade() -> None:
    op.create_table(
        "household_merges",
        sa.Column("merged_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("into_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("merged_id"),
    )
    op.create_index("ix_household_merges_into_id", "household_merges", ["into_id"], unique=False)
    _rebuild_merges()
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "households", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
        highest = (
            "SELECT coalesce(max(id), 0) FROM (SELECT max(id) AS id FROM households"
            " UNION ALL SELECT max(household_id) FROM decisions UNION ALL SELECT max(household_id) FROM audit"
            " UNION ALL SELECT max(merged_id) FROM household_merges)"
        )
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'households'")
        op.execute(f"INSERT INTO sqlite_sequence (name, seq) SELECT 'households', ({highest})")
    _attempts_fk(ondelete=None)
    _append_only_triggers()


def downgrade() -> None:
    _drop_triggers()
    _attempts_fk(ondelete="CASCADE")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "households", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
    op.drop_index("ix_household_merges_into_id", table_name="household_merges")
    op.drop_table("household_merges")


def _rebuild_merges() -> None:
    """A pointer for each merge an audit row records, unless the merged id is a household again."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT household_id, subject, at, actor FROM audit"
            " WHERE action = 'merge' AND subject LIKE 'into household %' ORDER BY id"
        )
    ).all()
    existing = set(bind.execute(sa.text("SELECT id FROM households")).scalars())
    for merged_id, subject, at, actor in rows:
        into = subject.removeprefix("into household ").strip()
        if merged_id is None or not into.isdigit():
            continue
        if merged_id in existing:
            log.warning(
                "household %s was merged into %s at %s, but its id now names another household: "
                "the merged family's calls cannot be told apart and stay under %s",
                merged_id,
                into,
                at,
                merged_id,
            )
            continue
        bind.execute(
            sa.text(
                "INSERT INTO household_merges (merged_id, into_id, at, actor) VALUES (:m, :i, :at, :actor)"
            ),
            {"m": merged_id, "i": int(into), "at": at, "actor": actor or ""},
        )


def _attempts_fk(*, ondelete: str | None) -> None:
    name = "fk_attempts_decision_id_decisions"
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("attempts", naming_convention=_FK_NAMES, recreate="always") as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")
            batch_op.create_foreign_key(name, "decisions", ["decision_id"], ["id"], ondelete=ondelete)
        return
    op.execute(
        "ALTER TABLE attempts DROP CONSTRAINT IF EXISTS attempts_decision_id_fkey,"
        f" DROP CONSTRAINT IF EXISTS {name}"
    )
    op.create_foreign_key(name, "attempts", "decisions", ["decision_id"], ["id"], ondelete=ondelete)


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _LEDGER:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never deleted'); END"
            )
            if table not in ("decisions", "attempts"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}"
                    f" BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never changed'); END"
                )
        op.execute(
            "CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions"
            f" WHEN {_DECISION_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')}"
            " OR NEW.plan IS NOT OLD.plan OR OLD.household_id IS NOT NULL"
            " BEGIN SELECT RAISE(ABORT, 'decisions is append-only: only a first call''s household"
            " is written later'); END"
        )
        op.execute(
            "CREATE TRIGGER attempts_no_update BEFORE UPDATE ON attempts"
            f" WHEN OLD.status <> '{_STARTED}' OR NEW.status = '{_STARTED}' OR "
            + _ATTEMPT_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
            + " BEGIN SELECT RAISE(ABORT, 'attempts is append-only: only a started attempt''s end"
            " is written later'); END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION callkeeper_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION callkeeper_attempt_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status <> '{_STARTED}' OR NEW.status = '{_STARTED}' OR {_ATTEMPT_CHANGED} THEN
                RAISE EXCEPTION 'attempts is append-only: only a started attempt''s end is written later'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION callkeeper_decision_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {_DECISION_CHANGED} OR NEW.plan::text IS DISTINCT FROM OLD.plan::text
               OR OLD.household_id IS NOT NULL THEN
                RAISE EXCEPTION 'decisions is append-only: only a first call''s household is written later'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN NEW;
        END $$
        """
    )
    for table in _LEDGER:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION callkeeper_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION callkeeper_append_only()"
        )
        function = {"decisions": "callkeeper_decision_update", "attempts": "callkeeper_attempt_update"}.get(
            table, "callkeeper_append_only"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def _drop_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _LEDGER:
        for kind in ("no_delete", "no_update") if sqlite else ("no_delete", "no_update", "no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{kind}" + ("" if sqlite else f" ON {table}"))
    if not sqlite:
        op.execute("DROP FUNCTION IF EXISTS callkeeper_append_only()")
        op.execute("DROP FUNCTION IF EXISTS callkeeper_decision_update()")
        op.execute("DROP FUNCTION IF EXISTS callkeeper_attempt_update()")
