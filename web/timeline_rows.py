"""The texts of the timeline's calls and attempts, made in Python once per row.

A timeline of a thousand calls has some three thousand moments and five
thousand catalog texts with values. Called from the template, each is a
call through Jinja's context (a lookup and checks per call) that costs more
than the text itself; made here, they are plain function calls, and the
template keeps the page's HTML and writes these texts where it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from router.routing.ledger import AttemptEntry, LedgerEntry
from router.splits import timeline
from web.console import Console


@dataclass(frozen=True, slots=True)
class AttemptTexts:
    at: str
    reason: str
    # One of the three, by status: answered (with `covering`), never recorded, or any other end.
    answered: Markup
    covering: Markup
    ended: str
    rang: Markup


@dataclass(frozen=True, slots=True)
class CallTexts:
    at: str
    heading: Markup
    office: Markup
    route: str
    attempts: tuple[tuple[AttemptEntry, AttemptTexts], ...]


def call_texts(console: Console, events: Sequence[timeline.Event]) -> list[CallTexts | None]:
    """Beside each event, its call's texts (None for an event that is not a call)."""
    _ = console.template_text
    anonymous = _("an anonymous number")
    formats = console.formats

    def attempt(a: AttemptEntry) -> AttemptTexts:
        ring = int(round(a.ring_seconds, 0))
        return AttemptTexts(
            at=formats.time(a.started_at),
            reason=console.word("reason", a.reason) if a.reason else "",
            answered=_(
                "answered after %(ring)s s of ringing, talked %(talk)s s",
                ring=ring,
                talk=int(round(a.talk_seconds, 0)),
            )
            if a.status == "ANSWER"
            else Markup(),
            covering=_("covering for %(owner)s", owner=a.covering_for) if a.covering_for else Markup(),
            ended=console.word("status", a.status),
            rang=_("rang %(ring)s s", ring=ring) if a.ring_seconds else Markup(),
        )

    def call(c: LedgerEntry) -> CallTexts:
        return CallTexts(
            at=formats.time(c.at),
            heading=_(
                "Call from %(number)s to line %(line)s",
                number=formats.phone(c.number) if c.number else anonymous,
                line=formats.phone(c.line),
            ),
            office=_("office %(office)s", office=c.office) if c.office else Markup(),
            route=console.word("reason", c.route),
            attempts=tuple((a, attempt(a)) for a in c.attempts),
        )

    return [call(e.entry) if isinstance(e, timeline.CallEvent) else None for e in events]
