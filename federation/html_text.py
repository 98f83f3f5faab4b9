"""Text to and from the HTML that ActivityStreams' ``content`` and ``summary`` hold.

What people type here is text; what travels in a note's ``content`` and an actor's ``summary`` is HTML (escaped
paragraphs, ``<br>`` for a line break), as Mastodon and the others send and expect it. What arrives there is read
back as text (tags dropped, entities decoded), never shown as HTML: a paragraph becomes a blank line, a ``<br>`` a
line break. The objects of this protocol (a time entry's ``content``, a catalog item's ``summary``, a refusal's
reason) are plain text, as PROTOCOL.md says.
"""

from __future__ import annotations

import html
import re

TAG_RE = re.compile(r"<[^>]*>")
PARAGRAPH_END_RE = re.compile(r"<\s*/\s*p\s*>", re.IGNORECASE)
BREAK_RE = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
BLANK_LINES_RE = re.compile(r"\n{3,}")


def to_html(text: str) -> str:
    """``text`` as HTML paragraphs (a blank line starts a new one), every character escaped."""
    paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def to_text(markup: str) -> str:
    """The text of ``markup``: paragraphs apart by a blank line, ``<br>`` a line break, other tags dropped."""
    text = BREAK_RE.sub("\n", PARAGRAPH_END_RE.sub("\n\n", markup))
    text = html.unescape(TAG_RE.sub("", text))
    return BLANK_LINES_RE.sub("\n\n", text).strip()
