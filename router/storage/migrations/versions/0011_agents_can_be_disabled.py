"""agents.state may be `disabled`: an agent who left keeps their history but is never rung

The state column's check constraint gains the value, and a name
(`ck_agents_state`) so that later changes need not guess it: PostgreSQL named
the first one `agents_state_check`, SQLite keeps it in the table's DDL, which
batch mode rewrites.

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-05 15:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0005"
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
    # SQLite cannot alter a constraint: batch mode copies the table without
    # the old (unnamed, unreflected) check and with the new one.
    with op.batch_alter_table(
        "agents", recreate="always", table_args=(sa.CheckConstraint(condition, name="ck_agents_state"),)
    ):
        pass
