"""The attestation as a PDF (fpdf2), in the language of the request.

The text uses DejaVu Sans, embedded (subset) so that accents print everywhere; it is read from Debian's
``fonts-dejavu-core`` package. Without that font the PDF falls back to the PDF core font Helvetica, which
only knows Latin-1 (other characters become "?").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from instance.i18n import get_language, ngettext
from instance.i18n import gettext as _
from instance.services.attestations import Attestation

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)


def font_files() -> tuple[Path, Path] | None:
    """DejaVu Sans regular and bold, if installed."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def day(value: dt.date | None) -> str:
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y") if get_language() == "fr" else value.isoformat()


def duration(minutes: int) -> str:
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        fonts = font_files()
        self.unicode = fonts is not None
        if fonts is not None:
            self.add_font("DejaVu", "", str(fonts[0]))
            self.add_font("DejaVu", "B", str(fonts[1]))
            self.family = "DejaVu"
        else:
            self.family = "helvetica"
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, margin=18)

    def text_of(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def style(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family, "B" if bold else "", size)

    def paragraph(self, text: str, size: float = 11, bold: bool = False, gap: float = 2) -> None:
        self.style(size, bold)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(gap)

    def footer(self) -> None:
        self.set_y(-12)
        self.style(8)
        self.cell(0, 5, f"{self.page_no()}/{{nb}}", align="C")


def _intro(attestation: Attestation) -> str:
    volunteer = attestation.volunteer
    name = volunteer.display_name or volunteer.public_name
    return _(
        "The association %(association)s certifies that %(volunteer)s took part in its activities as a "
        "volunteer between %(start)s and %(end)s, for %(hours)s in all (%(entries)s).",
        association=attestation.association.name,
        volunteer=name,
        start=day(attestation.period.start),
        end=day(attestation.period.end),
        hours=duration(attestation.minutes),
        entries=ngettext("%(num)s approved entry", "%(num)s approved entries", attestation.count),
    )


def _entries_table(pdf: _Document, attestation: Attestation) -> None:
    pdf.style(9)
    widths = (24, 86, 50, 14)
    with pdf.table(col_widths=widths, text_align=("LEFT", "LEFT", "LEFT", "RIGHT"), line_height=5) as table:
        heading = table.row()
        for label in (_("Date"), _("Activity"), _("Category"), _("Duration")):
            heading.cell(pdf.text_of(label))
        for entry in attestation.entries:
            row = table.row()
            dates = day(entry.start_date) + (f" – {day(entry.end_date)}" if entry.end_date else "")
            activity = entry.title + (f" ({entry.project})" if entry.project else "")
            for text in (dates, activity, entry.category, duration(entry.minutes)):
                row.cell(pdf.text_of(text))
        total = table.row()
        for text in (_("Total"), "", "", duration(attestation.minutes)):
            total.cell(pdf.text_of(text))


def attestation_pdf(attestation: Attestation, association_url: str) -> bytes:
    pdf = _Document()
    pdf.set_title(pdf.text_of(_("Volunteering certificate") + " – " + attestation.association.name))
    pdf.set_creator("Bénévalibre")
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.paragraph(_("Volunteering certificate"), size=18, bold=True, gap=4)
    pdf.paragraph(attestation.association.name, size=12, bold=True, gap=0)
    pdf.paragraph(association_url, size=9, gap=4)
    pdf.paragraph(_intro(attestation), gap=3)
    if attestation.managers:
        pdf.paragraph(_("Managers of the association: %(names)s.", names=attestation.manager_names), size=10)
    if attestation.truncated:
        pdf.paragraph(
            _("Only the first %(n)s entries are listed; the total counts them all.", n=len(attestation.entries)),
            size=9,
        )
    _entries_table(pdf, attestation)
    pdf.ln(6)
    pdf.paragraph(_("Issued on %(date)s.", date=day(attestation.issued_on)))
    pdf.paragraph(_("The legal representative of the association (name, capacity, signature):"), bold=True)
    if pdf.get_y() > pdf.h - 60:
        pdf.add_page()
    pdf.rect(pdf.l_margin, pdf.get_y(), 90, 35)
    return bytes(pdf.output())
