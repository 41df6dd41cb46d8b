"""agents.state may be `disabled`: an agent who left keeps their history but is never rung

The state column's check constraint gains the value, and a name
(`ck_agents_state`) so that later changes need not guess it: PostgreSQL named
the first one `agents_state_check`, SQLite keeps it in the table's DDL, which
batch mode rewrites.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-05 15:10:00.000000
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

_WITH = "state IN ('available', 'paused', 'offline', 'disabled')"
_WITHOUT = "state IN ('available', 'paused', 'offline')"


def upgrade() -> None:
    _replace_check(_WITH)


def downgrade() -> None:
    op.execute("UPDATE agents SET state = 'offline' WHERE state = 'disabled'")
    _replace_check(_WITHOUT)


def _replace_check(condition: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE agents DROP CONSTRAINT IF EXISTS agents_state_check")
        op.execute("ALTER TABLE agents DROP CONSTRAINT IF EXISTS ck_agents_state")
        op.create_check_constraint("ck_agents_state", "agents", condition)
        return
    # SQLite cannot alter a constraint: batch mode copies the table. It leaves
    # out the first release's unnamed check but keeps a named one, which is
    # therefore dropped first.
    checks = sa.inspect(op.get_bind()).get_check_constraints("agents")
    named = any(c["name"] == "ck_agents_state" for c in checks)
    with warnings.catch_warnings():
        # The warning says the unnamed check is left out: that is the point.
        warnings.filterwarnings("ignore", "Unnamed CHECK constraint", UserWarning)
        with op.batch_alter_table("agents", recreate="always") as batch_op:
            if named:
                batch_op.drop_constraint("ck_agents_state", type_="check")
            batch_op.create_check_constraint("ck_agents_state", condition)
