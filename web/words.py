"""The names of the router's values (roles, labels, states, reasons, audit actions) as the console says them.

Each is a catalog text marked with `N_` for extraction and translated when
shown, through the `Console`'s `word` function in templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from identity import reasons as r


def N_(message: str) -> str:
    return message


# English the router wrote (an audit value, an import's refusal) and the catalog text it reads as.
Known = list[tuple[re.Pattern[str], str]]


def known_text(
    known: Known,
    text: str,
    gettext: Callable[[str], str],
    detail: Callable[[str, str], str] = lambda _name, value: value,
) -> str | None:
    """`text` in the console's words by the first pattern it matches whole, its groups filled in
    through `detail`; None when no pattern knows it."""
    for pattern, message in known:
        found = pattern.fullmatch(text)
        if found:
            return gettext(message) % {k: detail(k, v) for k, v in found.groupdict().items()}
    return None


WORDS: dict[str, dict[str, str]] = {
    "role": {"admin": N_("administrator"), "supervisor": N_("supervisor"), "manager": N_("manager")},
    "label": {
        "mobile": N_("mobile"),
        "home": N_("home"),
        "spouse": N_("spouse"),
        "work": N_("work"),
        "other": N_("other"),
    },
    "state": {
        "available": N_("available"),
        "paused": N_("paused"),
        "offline": N_("offline"),
        "disabled": N_("disabled"),
        "on-call": N_("on a call"),
        "wrap-up": N_("wrap-up"),
    },
    "reason": {
        "owner": N_("the owner"),
        "owner-backup": N_("the owner's backup"),
        "office-pool": N_("the office's pool"),
        "overflow": N_("another office"),
        "fallback": N_("the ordinary queue"),
        "duplicate": N_("the manager of the family's earlier order"),
        "unassigned": N_("nobody available"),
    },
    "policy": {
        "equal": N_("equal shares"),
        "talk-time": N_("by talk time"),
        "owner": N_("all to the owner"),
        "first-contact": N_("half to the first contact, the rest shared"),
        "override": N_("overridden"),
    },
    "rule": {"fewest": N_("to whoever has the fewest families"), "round-robin": N_("in turn")},
    "source": {"manual": N_("by hand"), "import": N_("from a CSV file")},
    "status": {
        "ANSWER": N_("answered"),
        "BUSY": N_("busy"),
        "NOANSWER": N_("did not answer"),
        "CANCEL": N_("the caller hung up while it rang"),
        "CONGESTION": N_("the line was congested"),
        "CHANUNAVAIL": N_("the phone was unreachable"),
        "HANGUP": N_("hung up"),
        "UNKNOWN": N_("end never recorded"),
    },
    "action": {
        "create": N_("created"),
        "import": N_("families imported"),
        "link": N_("number linked"),
        "unlink": N_("number unlinked"),
        "move": N_("number moved"),
        "relabel": N_("label changed"),
        "member": N_("member added"),
        "merge": N_("merged"),
        "owner": N_("owner set"),
        "transfer": N_("owner transferred"),
        "lapse": N_("ownership lapsed"),
        "exclude": N_("agent excluded"),
        "include": N_("agent included again"),
        "user-add": N_("console user added"),
        "user-disable": N_("console user disabled"),
        "user-enable": N_("console user enabled"),
        "user-password": N_("console password changed"),
        "override": N_("split overridden"),
        "disable": N_("agent disabled"),
        "enable": N_("agent enabled"),
        "handover": N_("families handed over"),
        "backup": N_("backup changed"),
        "suggestion-reject": N_("not one family (suggestion rejected)"),
        "dispute-open": N_("dispute opened"),
        "dispute-join": N_("managers joined a dispute"),
        "resolve": N_("dispute resolved"),
    },
}


# A suggestion's reasons come from `identity.reasons` as English text with their details filled in;
# each template's catalog text has the same details as %-values (`web.console.Reasons` reads them back).
REASONS: dict[str, str] = {
    r.SAME_SURNAME: N_("same surname: %(member)s"),
    r.SURNAME: N_("surname: %(query)s ~ %(member)s"),
    r.SURNAME_FAMILY: N_("surname family: %(query)s ~ %(member)s"),
    r.DOUBLE_SURNAME: N_("double surname: %(query)s ~ %(member)s"),
    r.SURNAME_TYPO: N_("surname one letter away: %(query)s ~ %(member)s"),
    r.ONLY_FAMILY: N_("the only family of this surname"),
    r.SHARED_SURNAME: N_("%(count)s families share this surname"),
    r.SPOUSE: N_("spouse: %(query)s ~ %(member)s"),
    r.CHILD: N_("patronymic from a member: %(query)s ~ %(member)s"),
    r.SAME_GIVEN: N_("same given name: %(member)s"),
    r.SHORT_FORM: N_("short form: %(query)s ~ %(member)s"),
    r.GIVEN: N_("given name: %(query)s ~ %(member)s"),
    r.GIVEN_SIMILAR: N_("given name similar: %(query)s ~ %(member)s"),
    r.SAME_PATRONYMIC: N_("same patronymic: %(query)s ~ %(member)s"),
    r.DIFFERENT_PATRONYMIC: N_("different patronymic: %(query)s ≠ %(member)s"),
    r.COMMON_NAME: N_("common name: %(count)s households"),
    r.SAME_EMAIL: N_("same email: %(email)s"),
    r.SAME_ADDRESS: N_("same address"),
    r.NUMBER_ONE_DIGIT: N_("number one digit away: %(number)s"),
    r.NUMBER_BLOCK: N_("same number block: %(number)s"),
    r.CALLED_AFTER: N_("called the same line %(minutes)s min after the family's %(number)s"),
}
