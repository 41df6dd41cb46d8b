"""Every reason a suggestion can give, in one place: the words an admin reads.

A reason is `kind: details`; the kind before the colon is stable (the web
console may key a translation or an icon on it) and the details are the
words compared or a count. Each template below is filled by `reason()`
only, so a wording change is one line here and the tests that quote it.
"""

from __future__ import annotations

SAME_SURNAME = "same surname: {member}"
SURNAME = "surname: {query} ~ {member}"
SURNAME_FAMILY = "surname family: {query} ~ {member}"
DOUBLE_SURNAME = "double surname: {query} ~ {member}"
SURNAME_TYPO = "surname one letter away: {query} ~ {member}"
ONLY_FAMILY = "the only family of this surname"
SHARED_SURNAME = "{count} families share this surname"
SPOUSE = "spouse: {query} ~ {member}"
CHILD = "patronymic from a member: {query} ~ {member}"
SAME_GIVEN = "same given name: {member}"
SHORT_FORM = "short form: {query} ~ {member}"
GIVEN = "given name: {query} ~ {member}"
GIVEN_SIMILAR = "given name similar: {query} ~ {member}"
SAME_PATRONYMIC = "same patronymic: {query} ~ {member}"
DIFFERENT_PATRONYMIC = "different patronymic: {query} ≠ {member}"
COMMON_NAME = "common name: {count} households"
SAME_EMAIL = "same email: {email}"
SAME_ADDRESS = "same address"
NUMBER_ONE_DIGIT = "number one digit away: {number}"
NUMBER_BLOCK = "same number block: {number}"
CALLED_AFTER = "called the same line {minutes} min after the family's {number}"


def reason(template: str, **params: object) -> str:
    """One reason's text: a template of this module with its details filled in."""
    return template.format(**params)
