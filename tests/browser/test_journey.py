"""The whole journey in a real browser, between two real instances: Léa signs up on Entraide Nord (a) from her
phone, in French, joins Les Restos du quartier on Entraide Sud (b), logs 2 h 30, and gets her certificate; Bob,
who manages the association from a laptop, in English, accepts her, approves her time, values it and exports it.
Every page on the way is photographed at both widths and checked (see checks.py).
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader

from tests.browser.checks import DESKTOP, PHONE, look
from tests.browser.conftest import BOB
from tests.browser.support import log_in, until
from tests.conftest import PASSWORD
from tests.e2e.servers import Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.browser.support import Mail

expect = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed").expect
LEA = "lea@a.test"


def test_volunteer_and_manager_journey_across_two_instances(
    chromium: Browser, servers: tuple[Server, Server], mail: Mail, axe: str
) -> None:
    a, b = servers
    problems: list[str] = []
    phone = chromium.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="fr-FR", accept_downloads=True, bypass_csp=True
    )
    laptop = chromium.new_context(viewport=DESKTOP, locale="en-GB", accept_downloads=True, bypass_csp=True)
    lea, bob = phone.new_page(), laptop.new_page()

    # Bob prepares what volunteers will choose from: a project and a level worth 20 € an hour
    log_in(bob, b, BOB)
    restos = f"{b.base_url}/associations/restos"
    bob.goto(f"{restos}/projects")
    bob.fill("#f-name", "Collecte alimentaire")
    bob.get_by_role("button", name="Add").click()
    expect(bob.locator("table")).to_contain_text("Collecte alimentaire")
    problems += look(bob, "journey-en-b-projects", axe)
    bob.goto(f"{restos}/levels")
    bob.fill("#f-name", "Coordination")
    bob.fill("#f-hourly_rate", "20")
    bob.get_by_role("button", name="Add").click()
    expect(bob.locator("tr", has_text="Coordination")).to_contain_text("20")
    problems += look(bob, "journey-en-b-levels", axe)

    # 1. Léa signs up on a and confirms her account from the mail
    lea.goto(f"{a.base_url}/register")
    problems += look(lea, "journey-fr-a-register", axe)
    lea.fill("#f-email", LEA)
    lea.fill("#f-display_name", "Léa Martin")
    lea.fill("#f-handle", "lea")
    lea.fill("#f-password", PASSWORD)
    lea.fill("#f-password_confirmation", PASSWORD)
    lea.get_by_role("button", name="Créer mon compte").click()
    lea.wait_for_load_state()
    problems += look(lea, "journey-fr-a-registered", axe)
    lea.goto(mail.link(LEA, a.base_url, "/confirm/"))
    lea.get_by_role("button", name="Confirmer mon compte").click()
    expect(lea.get_by_role("status")).to_contain_text("Votre compte est confirmé. Bienvenue !")
    problems += look(lea, "journey-fr-a-profile", axe)

    # 2. she finds the association on b by its handle and asks to join
    lea.get_by_role("navigation").get_by_role("link", name="Autres instances").click()
    problems += look(lea, "journey-fr-a-follows", axe)
    lea.fill("#f-target", f"@restos@{b.host}")
    lea.get_by_role("button", name="Chercher").click()
    expect(lea.get_by_role("heading", level=1)).to_have_text("Les Restos du quartier")
    assert lea.url.startswith(f"{a.base_url}/associations/restos@"), lea.url
    problems += look(lea, "journey-fr-a-remote-association", axe)
    lea.get_by_role("button", name="Rejoindre").click()
    expect(lea.get_by_text("Demande en attente").first).to_be_visible()
    mirror = lea.url

    # 3. Bob accepts her
    def request_arrived(page: Page) -> bool:
        return page.get_by_text("Léa Martin").count() > 0

    until(bob, f"{restos}/members", request_arrived, "the request to join reaches b", servers)
    problems += look(bob, "journey-en-b-members", axe)
    bob.locator("section.card", has_text="Léa Martin").get_by_role("button", name="Accept").click()
    expect(bob.locator("tr", has_text="Léa Martin")).to_contain_text("Active")

    def member(page: Page) -> bool:
        return page.get_by_role("button", name="Quitter l’association").count() > 0 or (
            page.get_by_role("link", name="Quitter l’association").count() > 0
        )

    until(lea, mirror, member, "a hears that Léa was accepted", servers)

    # 4. from her phone, she logs 2 h 30 on the project, at the level
    lea.get_by_role("link", name="Saisir du temps").first.click()
    lea.wait_for_load_state()
    problems += look(lea, "journey-fr-a-new-entry", axe)
    lea.get_by_label("Autre", exact=True).check()
    lea.fill("#f-hours", "2")
    lea.fill("#f-minutes", "30")
    lea.fill("#f-title", "Tri des dons")
    lea.select_option("#f-project", label="Collecte alimentaire")
    lea.select_option("#f-level", label="Coordination")
    save = lea.get_by_role("button", name="Enregistrer", exact=True)
    box = save.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"] * 1.5, "Save is far below the fold"
    save.click()
    lea.goto(f"{a.base_url}/entries")
    row = lea.locator("tr", has_text="Tri des dons")
    assert "2 h 30" in row.inner_text()
    expect(row).to_contain_text("En attente")
    problems += look(lea, "journey-fr-a-entries-pending", axe)

    # 5. Bob approves it; Léa sees it approved and downloads her certificate
    def entry_arrived(page: Page) -> bool:
        return page.get_by_text("Tri des dons").count() > 0

    until(bob, f"{restos}/moderation", entry_arrived, "the entry reaches b", servers)
    problems += look(bob, "journey-en-b-moderation", axe)
    bob_row = bob.locator("tr", has_text="Tri des dons")
    assert "Collecte alimentaire" in bob_row.inner_text()
    bob_row.get_by_role("button", name="Approve").click()
    bob.goto(f"{restos}/moderation?status=approved")
    expect(bob.locator("tr", has_text="Tri des dons")).to_contain_text("Approved")

    def approved(page: Page) -> bool:
        return page.locator("tr", has_text="Tri des dons").get_by_text("Validée").count() > 0

    until(lea, f"{a.base_url}/entries", approved, "a hears that the entry was approved", servers)
    problems += look(lea, "journey-fr-a-entries-approved", axe)
    lea.goto(f"{a.base_url}/me/attestation")
    problems += look(lea, "journey-fr-a-attestation-form", axe)
    lea.get_by_role("button", name="Afficher l’attestation").click()
    lea.wait_for_load_state()
    expect(lea.locator("main")).to_contain_text("Les Restos du quartier")
    expect(lea.locator("tfoot")).to_contain_text("2 h 30")
    problems += look(lea, "journey-fr-a-attestation", axe)
    with lea.expect_download() as downloading:
        lea.get_by_role("link", name="Télécharger le PDF").click()
    pdf = PdfReader(downloading.value.path())
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Léa Martin" in text
    assert "Les Restos du quartier" in text

    # 6. Bob, also the treasurer, values the year's time and exports it
    bob.goto(f"{restos}/valuation")
    expect(bob.locator("#valuation-total")).to_have_text(re.compile(r"\b50[.,]00\b"))  # 2.5 h at 20 € an hour
    assert "Coordination" in bob.locator("table.valuation").inner_text()
    problems += look(bob, "journey-en-b-valuation", axe)
    bob.goto(f"{restos}/exports")
    problems += look(bob, "journey-en-b-exports", axe)
    with bob.expect_download() as downloading:
        bob.get_by_role("button", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(downloading.value.path().read_text(encoding="utf-8-sig"), newline="")))
    exported = [row for row in rows if "Tri des dons" in row]
    assert len(exported) == 1, rows
    assert "Collecte alimentaire" in exported[0]

    phone.close()
    laptop.close()
    assert not problems, "\n".join(problems)
