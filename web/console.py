"""What every page needs, made once per process: settings, the database, templates, texts, formats."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from router.accounts.sessions import SessionPolicy
from router.config import Settings, agency_zone
from router.errors import CallkeeperError
from router.splits.split_report import BookingSplit
from router.storage.db import CHECKPOINT_SECONDS, Database
from web.audit_words import AuditWords
from web.board_counts import SharedCounts
from web.formats import Formats
from web.import_words import ImportWords
from web.leads_runtime import LeadsRuntime
from web.reasons import Reasons
from web.suggestion_index import SharedIndex
from web.words import WORDS

HERE = Path(__file__).parent
LOCALE_DIR = HERE / "locale"
# The catalogs' msgids are English: English needs no catalog.
SOURCE_LANGUAGE = "en"


def translations(language: str) -> NullTranslations:
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], domain="messages")


class Console:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # SQLite's WAL copied back by a thread of its own, as the call front does: otherwise the
        # commit that fills it does it, with an fsync, and that lead waits (the leads API's p99).
        self.db = Database(settings.db, checkpoint_seconds=CHECKPOINT_SECONDS)
        self.suggestions = SharedIndex(self.db)
        self.leads = LeadsRuntime(settings, self.db, self.suggestions)
        self.board_counts = SharedCounts(self.db)
        self.zone = agency_zone(settings)
        self.formats = Formats(settings.console_language, settings.timezone)
        self.texts = translations(settings.console_language)
        self.policy = SessionPolicy(
            idle=timedelta(minutes=settings.web_idle_minutes),
            absolute=timedelta(hours=settings.web_session_hours),
            window=timedelta(minutes=settings.login_window_minutes),
            max_account_failures=settings.login_max_failures,
            max_address_failures=settings.login_max_address_failures,
        )
        self._translated: dict[str, str] = {}
        self._words = {
            kind: {value: self.texts.gettext(text) for value, text in names.items()}
            for kind, names in WORDS.items()
        }
        self.reasons = Reasons(self.texts.gettext, self.formats.phone)
        self.import_words = ImportWords(self.texts.gettext)
        self.audit_words = AuditWords(self.texts.gettext, self.formats, self.role_name)
        # Templates are read once (no check of the files on every page) and compiled at start.
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True),
            extensions=["jinja2.ext.i18n"],
            auto_reload=False,
        )
        self.templates.install_gettext_translations(self.texts, newstyle=True)  # type: ignore[attr-defined]
        self.templates.globals.update(
            _=self.template_text,
            fmt=self.formats,
            lang=settings.console_language,
            word=self.word,
            split_error=self.split_error,
            role_name=self.role_name,
            reasons=self.reasons.joined,
            audit_value=self.audit_words.value,
            audit_reason=self.audit_words.reason,
        )

    def gettext(self, message: str, **values: Any) -> str:
        """A text of the catalog outside a template (a flash, an error page's line)."""
        text = self.texts.gettext(message)
        return text % values if values else text

    def error_text(self, error: Exception) -> str:
        """A router error in the console's language, or its English text when the catalog has none.

        The error's key (`router.errors`) is looked up in the catalog and its
        values filled in; a value that is itself a catalog text (`none`, `owner
        chosen by a merge`) is translated too, a phone number is shown as people
        read it, the rest (card numbers, names, logins) is shown as it is.
        """
        if not isinstance(error, CallkeeperError) or not error.message:
            return str(error)
        text = self.texts.gettext(error.message)
        if not error.values:
            return text
        return text % {k: self._error_value(k, v) for k, v in error.values.items()}

    def _error_value(self, name: str, value: Any) -> Any:
        """A number as people read it (`+7 916 123-45-67`), a moment in the agency's time; a catalog text
        translated; the rest as it is."""
        if not isinstance(value, str) or not value:
            return value
        if name == "number" and value.startswith("+") and value[1:].isdigit():
            return self.formats.phone(value)
        if name == "at":  # a moment the router names in ISO 8601 UTC, shown in the agency's time
            try:
                return self.formats.time(datetime.fromisoformat(value))
            except ValueError:
                return value
        return self.texts.gettext(value)

    def split_error(self, split: BookingSplit) -> str:
        """Why a booking has no split, in the console's words (the page names the booking already)."""
        return self.error_text(split.failure) if split.failure is not None else split.error or ""

    def template_text(self, message: str, **values: Any) -> Markup:
        """`_()` in a template: the catalog's text with the values escaped into it.

        What Jinja's own newstyle `gettext` does, without its per-call
        context lookups and Markup formatting: a timeline of a thousand calls
        asks for some fifteen thousand texts. Each text is translated once per
        process (the language is a setting of the process), and `%` is applied
        even without values, as Jinja does, so `%%` reads `%` either way.
        """
        text = self._translated.get(message)
        if text is None:
            text = self._translated[message] = self.texts.gettext(message)
        return Markup(text % {name: escape(value) for name, value in values.items()})

    def word(self, kind: str, value: str | None) -> str:
        """A router value (a role, a label, a state, a reason, an audit action) in the console's words."""
        if not value:
            return ""
        return self._words[kind].get(value, value)

    def role_name(self, role: str) -> str:
        return self.word("role", role)

    def render(self, template: str, **context: Any) -> str:
        return self.templates.get_template(template).render(**context)

    def start(self) -> None:
        for name in self.templates.list_templates(extensions=["html"]):
            self.templates.get_template(name)
        self.db.ensure_schema()
        self.leads.start()

    def close(self) -> None:
        self.leads.close()
        self.db.dispose()
