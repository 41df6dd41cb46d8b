"""The family card and its actions: link, unlink, relabel, add a member, transfer, set the owners,
merge, exclude, include.

Each action is one view with one `post` that checks the right and the
object first, calls one function of `router.directory.households` inside one
unit of work (a refusal rolls it back whole: nothing is written), and sends
the browser back to the card with what was done, or shows the card again
with the refusal in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy.orm import Session
from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import household_reads, households, offices, owner_history
from router.errors import CallkeeperError, InvalidInput
from router.storage.models import NUMBER_LABELS, OWNERS_MODES
from web.views.base import Page, View, describe, see_other
from web.words import N_

# What the card says after each action (the `done` query parameter), through the catalog.
DONE = {
    "linked": N_("The number is linked."),
    "moved": N_("The number is moved to this family."),
    "unlinked": N_("The number is unlinked."),
    "relabelled": N_("The label is changed."),
    "member": N_("The member is added."),
    "transferred": N_("The owner is changed."),
    "owners": N_("The owners are set."),
    "merged": N_("The families are merged."),
    "excluded": N_("The agent will not get this family's calls."),
    "included": N_("The agent may get this family's calls again."),
    "rejected": N_("Not one family: this pair will not be offered again."),
}


def card_context(s: Session, page: Page, household_id: int) -> dict[str, Any]:
    """Everything the card shows, read in the caller's session; the object check comes first."""
    view = household_reads.household_view(household_reads.get_household(s, household_id))
    page.require_household(view.owner, view.co_owners)
    return {
        "household": view,
        "history": owner_history.owner_history(s, household_id),
        "exclusions": household_reads.exclusions_of(s, household_id),
        "agents": offices.agent_logins(s) if page.may(Right.EDIT_HOUSEHOLDS) else [],
        "labels": NUMBER_LABELS,
        "owners_modes": OWNERS_MODES,
        "suggestions": page.console.suggestions.concerning(s, household_id)
        if page.may(Right.HANDLE_SUGGESTIONS)
        else [],
    }


def render_card(page: Page, household_id: int, *, status: int = 200, **extra: Any) -> Response:
    """The card; after a refusal, `typed` holds what the refused form carried, by the form's name,
    so the form comes back as the user filled it in."""
    with page.console.db.reader() as s:
        context = card_context(s, page, household_id)
    done = DONE.get(page.query("done"))
    context = context | {"typed": {}, "form": {}, "taken": None, "error": ""} | extra
    return page.render("household.html", status=status, done=page.gettext(done) if done else "", **context)


class CardView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEARCH)
        return render_card(page, int(page.path("household")))


class ActionView(View):
    """A card action: `change` does the one router call and names what was done.

    `form` names the card's form the action is posted from: a refused action
    gives that form back with what was typed in it.
    """

    form: ClassVar[str] = ""

    def post(self, page: Page) -> Response:
        page.require(Right.EDIT_HOUSEHOLDS)
        household_id = int(page.path("household"))
        with page.console.db.reader() as s:
            page.require_household(
                household_reads.household_view(household_reads.get_household(s, household_id)).owner
            )
        try:
            with page.console.db.unit_of_work() as s:
                done = self.change(s, page, household_id)
        except households.NumberTaken as taken:
            return render_card(page, household_id, status=409, taken=taken, form=dict(page.form))
        except CallkeeperError as refused:
            status, message = describe(page.console, refused)
            typed = {self.form: dict(page.form)}
            return render_card(page, household_id, status=status, error=message, typed=typed)
        # The leads API's suggestion index sees the change (a merged-away card leaves it).
        other = page.field("other")
        page.console.leads.refresh([household_id, int(other) if other.isdigit() else None])
        return see_other(f"/households/{household_id}?done={done}")

    def change(self, s: Session, page: Page, household_id: int) -> str:
        raise NotImplementedError


def _number(page: Page) -> str:
    return household_reads.parse_number(page.field("number"), page.console.settings.region).key


class LinkView(ActionView):
    form = "link"

    def change(self, s: Session, page: Page, household_id: int) -> str:
        move = page.field("move") == "1"
        households.link(
            s,
            _number(page),
            household_id,
            label=page.field("label") or "mobile",
            move=move,
            actor=page.actor,
            reason=page.field("reason"),
        )
        return "moved" if move else "linked"


class UnlinkView(ActionView):
    def change(self, s: Session, page: Page, household_id: int) -> str:
        number = _number(page)
        _belongs(s, number, household_id)
        households.unlink(s, number, actor=page.actor, reason=page.field("reason"))
        return "unlinked"


class RelabelView(ActionView):
    def change(self, s: Session, page: Page, household_id: int) -> str:
        households.relabel(s, _number(page), household_id, page.field("label"), actor=page.actor)
        return "relabelled"


class MemberView(ActionView):
    form = "member"

    def change(self, s: Session, page: Page, household_id: int) -> str:
        households.add_member(s, household_id, page.field("name"), actor=page.actor)
        return "member"


class TransferView(ActionView):
    form = "transfer"

    def change(self, s: Session, page: Page, household_id: int) -> str:
        households.transfer(
            s, household_id, page.field("login") or None, reason=page.field("reason"), actor=page.actor
        )
        return "transferred"


class OwnersView(ActionView):
    """The family's owners in order, rung in turn or together: the CLI's `household owners`."""

    form = "owners"

    def change(self, s: Session, page: Page, household_id: int) -> str:
        households.set_owners(
            s,
            household_id,
            page.field("owners").replace(",", " ").split(),
            mode=page.field("mode") or "ordered",
            reason=page.field("reason"),
            actor=page.actor,
        )
        return "owners"


class ExcludeView(ActionView):
    form = "exclude"

    def change(self, s: Session, page: Page, household_id: int) -> str:
        households.exclude(
            s, household_id, page.field("login"), actor=page.actor, reason=page.field("reason")
        )
        return "excluded"


class IncludeView(ActionView):
    def change(self, s: Session, page: Page, household_id: int) -> str:
        households.include(
            s, household_id, page.field("login"), actor=page.actor, reason=page.field("reason")
        )
        return "included"


class MergeView(ActionView):
    """GET shows what would move from the other family (and asks to confirm); POST merges."""

    def get(self, page: Page) -> Response:
        page.require(Right.EDIT_HOUSEHOLDS)
        household_id = int(page.path("household"))
        other_id = _other(page, page.query)
        with page.console.db.reader() as s:
            keep = card_context(s, page, household_id)
            other = household_reads.household_view(household_reads.get_household(s, other_id))
            page.require_household(other.owner)
            other_exclusions = household_reads.exclusions_of(s, other_id)
        owners = sorted({o for o in (keep["household"].owner, other.owner) if o})
        return page.render(
            "merge.html",
            keep=keep["household"],
            other=other,
            other_exclusions=other_exclusions,
            owners=owners,
        )

    def change(self, s: Session, page: Page, household_id: int) -> str:
        other_id = _other(page, page.field)
        other = household_reads.household_view(household_reads.get_household(s, other_id))
        page.require_household(other.owner)
        households.merge(
            s,
            household_id,
            other_id,
            owner=page.field("owner") or None,
            actor=page.actor,
            reason=page.field("reason"),
        )
        return "merged"


def _other(page: Page, value: Callable[[str], str]) -> int:
    text = value("other")
    if not text.isdigit():
        raise InvalidInput(page.gettext("give the number of the other family's card"))
    return int(text)


def _belongs(s: Session, number: str, household_id: int) -> None:
    """Unlink from this card only a number of this family (the URL names the family checked)."""
    found = household_reads.lookup(s, number)
    if found is None or found.household_id != household_id:
        raise InvalidInput(
            N_("number %(number)s is not linked to household %(household)s"),
            number=number,
            household=household_id,
        )
