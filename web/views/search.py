"""Search: one box for any number in any spelling or a name; one match goes straight to its card."""

from __future__ import annotations

from starlette.responses import Response

from router.accounts.roles import Right, allows, may_see_household
from router.directory import household_reads
from web.views.base import Page, View, see_other

# How many families `household_reads.search_names` answers at most (its default limit).
NAME_MATCHES = 50


class SearchView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEARCH)
        text = page.query("q")
        found: list[household_reads.Found] = []
        cut = False
        if text:
            user = page.user
            # A manager's page lists families they may open, not the first of everyone's.
            agent = None if allows(user.role, Right.SEE_ANY_HOUSEHOLD) else user.agent
            with page.console.db.reader() as s:
                found = household_reads.search(s, text, page.console.settings.region, agent=agent)
            # The search answers at most its first matches: the page says so, or a user takes the
            # list for every family of that name.
            cut = len(found) >= NAME_MATCHES
            found = [f for f in found if may_see_household(user.role, user.agent, f.owner, f.co_owners)]
            if len(found) == 1 and not cut:
                return see_other(f"/households/{found[0].id}")
        return page.render(
            "search.html", q=text, found=found, searched=bool(text), cut=cut, most=NAME_MATCHES
        )
