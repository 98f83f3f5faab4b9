"""Text sent as HTML and HTML read back as text: what a note's content and an actor's summary go through."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from federation.html_text import to_html, to_text


def test_paragraphs_and_line_breaks_travel_as_html() -> None:
    assert to_html("Repas chauds\nle soir\n\n<b>Tous</b> & plus") == (
        "<p>Repas chauds<br>le soir</p><p>&lt;b&gt;Tous&lt;/b&gt; &amp; plus</p>"
    )


def test_a_mastodon_summary_is_read_as_text() -> None:
    summary = (
        '<p>Entraide &amp; <a href="https://x.example/tags/repas" class="hashtag">#<span>repas</span></a></p>'
        "<p>Ligne<br />deux</p>"
    )
    assert to_text(summary) == "Entraide & #repas\n\nLigne\ndeux"


def test_markup_never_survives_as_markup() -> None:
    assert to_text("<script>alert(1)</script><img src=x onerror=alert(1)>Bonjour") == "alert(1)Bonjour"


text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\n"), max_size=200)


@given(text)
def test_what_is_typed_comes_back_as_typed(typed: str) -> None:
    normal = "\n\n".join(p.strip("\n") for p in typed.split("\n\n") if p.strip())
    assert to_text(to_html(typed)) == normal.strip()
