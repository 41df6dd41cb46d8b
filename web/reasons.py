"""A suggestion's reasons in the console's words.

The suggestion index (`identity`) writes each reason in English from one
template of `identity.reasons`, its details filled in (`same surname:
Ильина`). The console reads a reason back against those templates, looks up
the template's catalog text (`web.words.REASONS`) and fills in the same
details: a Russian console says «та же фамилия: Ильина». A number among the
details is shown as people read it; a reason no template matches is shown as
it came.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from web.words import REASONS

_FIELD = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _FIELD.split(template)
    # split() alternates literal text and field names: text, name, text, name, ..., text.
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
    return re.compile(regex)


class Reasons:
    def __init__(self, gettext: Callable[[str], str], phone: Callable[[str], str]) -> None:
        self._phone = phone
        self._known = [(_pattern(template), gettext(text)) for template, text in REASONS.items()]

    def text(self, reason: str) -> str:
        for pattern, text in self._known:
            found = pattern.fullmatch(reason)
            if found:
                values = found.groupdict()
                if "number" in values:
                    values["number"] = self._phone(values["number"])
                return text % values if values else text
        return reason

    def joined(self, reasons: Iterable[str]) -> str:
        """A suggestion's reasons on one line, as the pages show them."""
        return "; ".join(self.text(r) for r in reasons)
