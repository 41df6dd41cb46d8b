"""The evidence timeline of a family: every call with its attempts, every change, every booking, its split.

The page a supervisor opens when two managers argue, so each line says it
plainly: a covered call names for whom, an attempt whose end was never
recorded says so. One router call (`router.splits.timeline.timeline`) for
the page and the same one for its CSV export.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import household_reads
from router.errors import InvalidInput
from router.splits import timeline
from router.splits.shares import POLICIES
from router.storage.views import HouseholdView
from web import timeline_rows
from web.views.base import Page, View
from web.views.periods import period


def _read(page: Page) -> tuple[HouseholdView, timeline.Timeline]:
    household_id = int(page.path("household"))
    policy = page.query("policy") or POLICIES[0]
    if policy not in POLICIES:
        raise InvalidInput(page.gettext("choose a split policy from the list"))
    since, until = period(page)
    with page.console.db.reader() as s:
        view = household_reads.household_view(household_reads.get_household(s, household_id))
        page.require_household(view.owner)
        return view, timeline.timeline(
            s, household_id, since=since, until=until, policy=policy, region=page.console.settings.region
        )


class TimelineView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_EVIDENCE)
        household, found = _read(page)
        return page.render(
            "timeline.html",
            household=household,
            found=found,
            events=list(zip(found.events, timeline_rows.call_texts(page.console, found.events), strict=True)),
            policies=POLICIES,
            filters={k: page.query(k) for k in ("since", "until")} | {"policy": found.policy},
        )


class TimelineCsvView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_EVIDENCE)
        _, found = _read(page)
        # The CLI's rows and columns, written for the spreadsheet a Russian office opens them in: a BOM
        # (else Excel reads UTF-8 as cp1251), `;` between columns (its list separator), and each moment
        # in the agency's zone, as the page shows it (still ISO 8601, with its offset).
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, delimiter=";")
        rows = timeline.csv_rows(found)
        header = next(rows)
        writer.writerow(header)
        at, zone = header.index("at"), page.console.zone
        writer.writerows([_local(v, zone) if n == at else v for n, v in enumerate(row)] for row in rows)
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="family-{found.household}-timeline.csv"'},
        )


def _local(at: str, zone: tzinfo) -> str:
    return datetime.fromisoformat(at).astimezone(zone).isoformat() if at else at
