"""Statistics, valuation and charts of an association, the instance's statistics, and who may see them.

The data set (``make_seed``) is small enough to count by hand; every figure asserted below is worked out in
the comments.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from defusedxml import ElementTree
from sqlalchemy import select

from instance.models import Association, Membership, Project, Role
from instance.runtime import Instance
from tests.conftest import make_client
from tests.test_reports_support import Seed, as_user, cells, make_seed, quick_user


@pytest.fixture
async def seed(instance: Instance) -> Seed:
    return await make_seed(instance)


# -- statistics -------------------------------------------------------------------------------------------------


async def test_statistics_count_approved_entries_of_the_year(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        response = await client.get("/associations/jardins/statistics?year=2025")
    assert response.status_code == 200
    html = response.text
    assert "Only approved entries are counted." in html
    # Approved 2025 entries: 1, 2, 3, 7 → 4 entries; 90 + 45 + 120 + 47 = 302 min = 5 h 02;
    # volunteers bob, carol and Zoé (no account) = 3; 12.5 + 3 = 15.5 km.
    totals = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html)
    assert totals == [("Entries", "4"), ("Hours", "5 h 02"), ("Volunteers", "3"), ("Distance", "15.5 km")]
    # Projects: Fête = entries 1 and 3 (2 volunteers, 90 + 120 = 3 h 30, 15.5 km); Jardin = entry 2; none = 7.
    assert cells(html, "Hours by project") == [
        ["Fête de quartier", "2", "2", "3 h 30", "15.5"],
        ["Jardin", "1", "1", "45 min", "0.0"],
        ["Without project", "1", "1", "47 min", "0.0"],
    ]
    # Levels: Expert 2 h (entry 3), Animateur 1 h 30 (entry 1), none 45 + 47 = 92 min.
    assert cells(html, "Hours by level") == [
        ["Expert", "1", "1", "2 h", "3.0"],
        ["Animateur", "1", "1", "1 h 30", "12.5"],
        ["Without level", "2", "2", "1 h 32", "0.0"],
    ]
    # Months of 2025: January 90, March 45 + 120 = 165, May 47; the other months are zero.
    months = cells(html, "Hours per month")
    assert len(months) == 12
    assert months[0] == ["January", "1", "1", "1 h 30", "12.5"]
    assert months[2] == ["March", "2", "2", "2 h 45", "3.0"]
    assert months[4][3] == "47 min"
    assert months[1] == ["February", "0", "0", "0 min", "0.0"]
    # Members: bob 90 + 45 = 2 h 15, carol 2 h, Zoé 47 min.
    assert cells(html, "Hours by member") == [
        ["Bob Durand", "2", "2 h 15", "12.5"],
        ["Carole Petit", "1", "2 h", "3.0"],
        ["Zoé Anonyme", "1", "47 min", "0.0"],
    ]


async def test_statistics_by_category_and_common_category(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/statistics?year=2025")).text
    by_category = cells(html, "Hours by category")
    # governance: entries 1 and 3 (210 min); other: 7 (47 min); events: 2 (45 min).
    assert [(row[1], row[3]) for row in by_category] == [("2", "3 h 30"), ("1", "47 min"), ("1", "45 min")]
    common = cells(html, "Hours by common category (shared by every association)")
    assert common[0][0].startswith("Taking part in the association")
    assert [row[3] for row in common] == ["3 h 30", "47 min", "45 min"]


async def test_statistics_can_include_pending_and_take_a_date_range(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/statistics?year=2025&pending=1")).text
        # With entry 4 (pending, 30 min): 5 entries, 332 min = 5 h 32.
        assert ("Hours", "5 h 32") in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html)
        # 2024-12-01 .. 2025-02-28: entries 6 (60 min) and 1 (90 min) = 2 h 30; months Dec 2024 .. Feb 2025.
        html = (await client.get("/associations/jardins/statistics?from=2024-12-01&to=2025-02-28")).text
        assert ("Hours", "2 h 30") in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html)
        assert [row[0] for row in cells(html, "Hours per month")] == ["December 2024", "January 2025", "February 2025"]
        assert (await client.get("/associations/jardins/statistics?from=2025-03-01&to=2025-01-01")).status_code == 400
        assert (await client.get("/associations/jardins/statistics?year=abc")).status_code == 400


async def test_statistics_of_an_empty_year(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/statistics?year=2023")).text
    assert "No entries in this period." in html


async def test_charts_are_accessible_svg(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/statistics?year=2025")).text
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 3
    for svg in svgs:
        root = ElementTree.fromstring(svg)  # valid XML
        assert root.get("role") == "img"
        assert root.get("viewBox", "").startswith("0 0 ")
        ns = "{http://www.w3.org/2000/svg}"
        assert root.find(f"{ns}title") is not None and root.find(f"{ns}desc") is not None
        labelled = root.get("aria-labelledby", "").split()
        assert [root.find(f"{ns}title").get("id"), root.find(f"{ns}desc").get("id")] == labelled
    months = ElementTree.fromstring(svgs[0])
    bar_titles = [t.text for t in months.iter("{http://www.w3.org/2000/svg}title")][1:]
    assert "Mar: 2 h 45" in bar_titles
    assert "Fête de quartier: 3 h 30" in svgs[2] or "Fête de quartier: 3 h 30" in html


async def test_chart_labels_are_escaped(app: Any, instance: Instance, seed: Seed) -> None:
    async with instance.sessions() as db:
        project = await db.get(Project, seed.jardin.id)
        assert project is not None
        project.name = "<script>alert(1)</script> & co"
        await db.commit()
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/statistics?year=2025")).text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


# -- valuation --------------------------------------------------------------------------------------------------


async def test_valuation_per_level_and_accounts(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/valuation?year=2025")).text
    # Animateur: entry 1, 90 min × 15.00 €/h = 22.50 €
    # Expert: entry 3, 120 min × 20.50 €/h = 41.00 € (entry 5 is rejected: not counted)
    # Without level, at the instance's default 11.88 €/h: entries 2 and 7, 45 + 47 = 92 min;
    #   92 × 11.88 / 60 = 1092.96 / 60 = 18.216 → 18.22 €
    # Total = 22.50 + 41.00 + 18.22 = 81.72 €, on 864 (debit) and on 875 (credit).
    assert cells(html, "Value per level") == [
        ["Animateur", "1", "1.50", "15.00 €", "22.50 €"],
        ["Expert", "1", "2.00", "20.50 €", "41.00 €"],
        ["Without level", "2", "1.53", "11.88 €", "18.22 €"],
    ]
    assert '<strong id="valuation-total">81.72 €</strong>' in html
    assert re.search(r'id="account-864">81.72 €<', html)
    assert re.search(r'id="account-875">81.72 €<', html)
    assert "864 · Personnel bénévole" in html and "875 · Bénévolat" in html
    assert "reports.css" in html  # the print stylesheet


async def test_valuation_uses_the_association_rate_and_pending_toggle(app: Any, instance: Instance, seed: Seed) -> None:
    async with instance.sessions() as db:
        association = await db.get(Association, seed.association.id)
        assert association is not None
        association.hourly_rate = Decimal("12.00")
        await db.commit()
    async with await as_user(app, instance, seed.alice) as client:
        html = (await client.get("/associations/jardins/valuation?year=2025&pending=1")).text
    # Without level, at 12.00 €/h, with pending entry 4: 45 + 47 + 30 = 122 min × 12 / 60 = 24.40 €
    # Total = 22.50 + 41.00 + 24.40 = 87.90 €
    assert ["Without level", "3", "2.03", "12.00 €", "24.40 €"] in cells(html, "Value per level")
    assert '<strong id="valuation-total">87.90 €</strong>' in html


# -- who may see what ---------------------------------------------------------------------------------------------


async def test_reports_need_a_role_that_lists_members_or_manages_entries(
    app: Any, instance: Instance, seed: Seed
) -> None:
    pages = ("/associations/jardins/statistics", "/associations/jardins/valuation")
    async with make_client(app) as visitor:
        for page in pages:
            response = await visitor.get(page)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
    for user in (seed.dave, seed.erin, seed.bob):  # not a member; members without the permission
        async with await as_user(app, instance, user) as client:
            for page in pages:
                assert (await client.get(page)).status_code == 403
    async with instance.sessions() as db:  # a role that only lists members may see the statistics
        role = Role(association_id=seed.association.id, name="Secrétaire", list_members=True)
        db.add(role)
        await db.flush()
        membership = await db.scalar(select(Membership).where(Membership.user_id == seed.erin.id))
        assert membership is not None
        membership.role_id = role.id
        await db.commit()
    async with await as_user(app, instance, seed.erin) as client:
        response = await client.get("/associations/jardins/statistics")
        assert response.status_code == 200
        assert "Export CSV" not in response.text  # exports need manage_entries
        assert (await client.get("/associations/jardins/export.csv")).status_code == 403


async def test_hidden_association_is_not_found_for_outsiders(app: Any, instance: Instance, seed: Seed) -> None:
    async with instance.sessions() as db:
        association = await db.get(Association, seed.association.id)
        assert association is not None
        association.hidden = True
        await db.commit()
    async with await as_user(app, instance, seed.dave) as client:
        assert (await client.get("/associations/jardins/statistics")).status_code == 404
        assert (await client.get("/associations/jardins/export.csv")).status_code == 404
        assert (await client.get("/associations/nowhere/valuation")).status_code == 404


async def test_instance_statistics_for_admins_only(app: Any, instance: Instance, seed: Seed) -> None:
    admin = await quick_user(instance, "root@example.org", "root", admin=True)
    async with await as_user(app, instance, seed.alice) as client:
        assert (await client.get("/admin/statistics")).status_code == 403
    async with await as_user(app, instance, admin) as client:
        html = (await client.get("/admin/statistics?year=2025")).text
        # 6 accounts; approved 2025 time: 302 min by bob, carol and Zoé.
        assert '<dd id="accounts">6</dd>' in html
        assert '<dd id="associations-active">1</dd>' in html
        assert '<dd id="hours">5 h 02</dd>' in html
        assert '<dd id="volunteers">3</dd>' in html
        # Every year: entry 6 (60 min) more.
        html = (await client.get("/admin/statistics?year=all")).text
        assert '<dd id="hours">6 h 02</dd>' in html


async def test_french_pages_use_french_numbers_and_months(app: Any, instance: Instance, seed: Seed) -> None:
    async with await as_user(app, instance, seed.alice, language="fr") as client:
        statistics = (await client.get("/associations/jardins/statistics?year=2025")).text
        valuation = (await client.get("/associations/jardins/valuation?year=2025")).text
    assert '<html lang="fr">' in statistics
    assert "15,5 km" in statistics
    assert "janvier" in statistics and "mars" in statistics
    assert 'id="account-864">81,72 €<' in valuation
