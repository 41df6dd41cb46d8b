"""The audit log, filterable by family, actor, action and period (days in the agency's zone)."""

from __future__ import annotations

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import audit
from router.errors import InvalidInput
from web.views.base import Page, View
from web.views.periods import period
from web.words import WORDS

PAGE_ROWS = 500


class AuditLogView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_AUDIT)
        household = page.query("household")
        if household and not household.isdigit():
            raise InvalidInput(page.gettext("the family is given by its card number"))
        since, until = period(page)
        with page.console.db.reader() as s:
            rows = audit.trail(
                s,
                int(household) if household else None,
                actor=page.query("actor") or None,
                action=page.query("action") or None,
                since=since,
                until=until,
                newest_first=True,
                limit=PAGE_ROWS,
            )
        return page.render(
            "audit.html",
            rows=rows,
            limit=PAGE_ROWS,
            # Every action the audit records is one to filter by (an override, a resolved dispute...).
            actions=list(WORDS["action"]),
            filters={k: page.query(k) for k in ("household", "actor", "action", "since", "until")},
        )
