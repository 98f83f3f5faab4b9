"""Extract the translatable strings and update the French and English catalogs.

    .venv/bin/python tools/messages.py          # extract, then merge into instance/locale/*/messages.po
    .venv/bin/python tools/messages.py --check  # exit 1 if a string is missing or untranslated

English catalogs get each msgid as its own translation; French ones must be translated by a person.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "instance" / "locale"
LANGUAGES = ("fr", "en")
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def extract() -> Catalog:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    template = Catalog(project="benevalibre-fed")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def load(language: str) -> Catalog:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return Catalog(locale=language, project="benevalibre-fed")
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def save(language: str, catalog: Catalog) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=False, sort_output=True, width=120, include_lineno=False)
    path.write_bytes(buffer.getvalue())


def problems(template: Catalog) -> list[str]:
    found = []
    for language in LANGUAGES:
        catalog = load(language)
        for message in template:
            if not message.id:
                continue
            translated = catalog.get(message.id)
            strings = translated.string if translated else None
            if translated is None or not _translated(strings) or translated.fuzzy:
                found.append(f"{language}: {message.id!r}")
    return found


def _translated(string: object) -> bool:
    return all(string) if isinstance(string, tuple | list) else bool(string)


def update(template: Catalog) -> None:
    for language in LANGUAGES:
        catalog = load(language)
        known = {  # translations to keep, even of strings that disappeared for a while and came back
            m.id if isinstance(m.id, str) else tuple(m.id): m.string
            for m in [*catalog, *catalog.obsolete.values()]
            if m.id and _translated(m.string) and not m.fuzzy
        }
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            if not message.id or _translated(message.string):
                continue
            key = message.id if isinstance(message.id, str) else tuple(message.id)
            if key in known:
                message.string = known[key]
            elif language == "en":
                message.string = message.id if isinstance(message.id, str) else tuple(message.id)
        catalog.obsolete.clear()
        save(language, catalog)


def main() -> int:
    template = extract()
    if "--check" in sys.argv:
        missing = problems(template)
        for line in missing:
            print("untranslated:", line)
        return 1 if missing else 0
    update(template)
    left = problems(template)
    print(f"{len(template)} messages; {len(left)} still to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
