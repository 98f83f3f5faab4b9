"""Translations: French first, English too.

Catalogs are the ``.po`` files under ``instance/locale``, read once at start-up (no compile step). The
language of the current request or task lives in a context variable; ``gettext`` and friends read it, and
``lazy_gettext`` marks strings at import time that are translated when shown.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from functools import cache
from gettext import c2py
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from babel.support import LazyProxy

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT_LANGUAGE = "fr"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("language", default=DEFAULT_LANGUAGE)


class Catalog:
    def __init__(self, messages: dict[Any, Any], plural: Callable[[int], int]) -> None:
        self.messages = messages
        self.plural = plural

    def gettext(self, message: str) -> str:
        return self.messages.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.messages.get((singular, plural))
        if forms:
            index = self.plural(n)
            if 0 <= index < len(forms) and forms[index]:
                return str(forms[index])
        return singular if n == 1 else plural


@cache
def catalog(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return Catalog({}, lambda n: int(n != 1))
    with path.open("rb") as handle:
        po = read_po(handle, locale=language)
    messages: dict[Any, Any] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            messages[(message.id[0], message.id[1])] = list(message.string or ())
        elif message.string:
            messages[message.id] = message.string
    return Catalog(messages, c2py(po.plural_expr))


def get_language() -> str:
    return _current.get()


def set_language(language: str) -> contextvars.Token[str]:
    return _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


def reset_language(token: contextvars.Token[str]) -> None:
    _current.reset(token)


@contextlib.contextmanager
def language(code: str) -> Iterator[None]:
    token = set_language(code)
    try:
        yield
    finally:
        _current.reset(token)


def translate(message: str) -> str:
    """The translation of ``message``, unformatted (for templates, which format it themselves)."""
    return catalog(get_language()).gettext(message)


def translate_plural(singular: str, plural: str, n: int) -> str:
    return catalog(get_language()).ngettext(singular, plural, n)


def gettext(message: str, **params: object) -> str:
    text = catalog(get_language()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = catalog(get_language()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


def lazy_gettext(message: str, **params: object) -> LazyProxy:
    """A string translated into the current language each time it is shown."""
    return LazyProxy(gettext, message, enable_cache=False, **params)


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for extraction only; it is translated later, in the reader's language."""
    return message


def negotiate(accept_language: str, default: str = DEFAULT_LANGUAGE) -> str:
    """Pick a supported language from an ``Accept-Language`` header."""
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _sep, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        choices.append((-quality, index, tag.strip().lower().split("-")[0]))
    for quality, _index, code in sorted(choices):
        if quality < 0 and code in LANGUAGES:
            return code
    return default
