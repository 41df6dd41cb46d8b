"""The names of the router's values (roles, labels, states, reasons, audit actions) as the console says them.

Each is a catalog text marked with `N_` for extraction and translated when
shown, through the `Console`'s `word` function in templates.
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


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
