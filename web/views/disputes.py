"""Disputes: the open ones with their age, and one dispute's evidence side by side, to open and resolve.

Supervisors and admins only (`Right.SETTLE_DISPUTES`): a dispute is about
two managers, and neither of them decides it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import co_owners, disputes
from router.errors import CallkeeperError, InvalidInput
from router.splits import dispute_evidence
from router.splits.shares import POLICIES
from router.storage.db import utcnow
from router.storage.models import OWNERS_MODES
from web.views.base import Page, View, describe, see_other


class DisputeListView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SETTLE_DISPUTES)
        return render_list(page)

    def post(self, page: Page) -> Response:
        page.require(Right.SETTLE_DISPUTES)
        household = page.field("household")
        try:
            if not household.isdigit():
                raise InvalidInput(page.gettext("the family is given by its card number"))
            with page.console.db.unit_of_work() as s:
                opened = disputes.open_dispute(
                    s,
                    int(household),
                    page.field("agents").replace(" ", ",").split(","),
                    reason=page.field("reason"),
                    actor=page.actor,
                )
        except CallkeeperError as refused:
            status, message = describe(page.console, refused)
            return render_list(page, status=status, error=message, form=dict(page.form))
        return see_other(f"/disputes/{opened.id}")


def render_list(page: Page, *, status: int = 200, **extra: Any) -> Response:
    """The open disputes; after a refusal, the refusal in words above the form as it was filled in."""
    with page.console.db.reader() as s:
        rows = disputes.list_disputes(s, open_only=True)
    now = utcnow()
    ages = {d.id: int(d.age_days(now)) for d in rows}
    context = {"rows": rows, "ages": ages, "error": "", "form": {}} | extra
    return page.render("disputes.html", status=status, **context)


class DisputePageView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SETTLE_DISPUTES)
        return render_dispute(page)

    def post(self, page: Page) -> Response:
        page.require(Right.SETTLE_DISPUTES)
        dispute_id = int(page.path("dispute"))
        policy = page.field("policy")
        try:
            if policy not in POLICIES:
                raise InvalidInput(page.gettext("choose a split policy"))
            with page.console.db.unit_of_work() as s:
                disputes.resolve(
                    s,
                    dispute_id,
                    owner=page.field("owner"),
                    co_owners=[c for c in page.form.get("co_owners", "").split(",") if c.strip()],
                    mode=page.field("mode") or co_owners.EQUAL,
                    policy=policy,
                    reason=page.field("reason"),
                    actor=page.actor,
                )
        except CallkeeperError as refused:
            status, message = describe(page.console, refused)
            return render_dispute(page, status=status, error=message, form=dict(page.form))
        return see_other(f"/disputes/{dispute_id}")


def render_dispute(page: Page, *, status: int = 200, **extra: Any) -> Response:
    """One dispute's evidence; after a refused resolution, the refusal and the form as it was filled in."""
    with page.console.db.reader() as s:
        evidence = dispute_evidence.dispute_evidence(
            s, int(page.path("dispute")), region=page.console.settings.region
        )
    context = {
        "evidence": evidence,
        "policies": POLICIES,
        "owners_modes": OWNERS_MODES,
        "age": int(evidence.dispute.age_days(utcnow())),
        "error": "",
        "form": {},
    }
    return page.render("dispute.html", status=status, **(context | extra))
