"""The verifiable record: alice downloads her approved time (restos on b.test, amis on a.test), and it verifies
offline, with the command line and on another instance's page; a changed duration or date does not."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from federation import record
from instance.models import Category
from tests.conftest import csrf_token, post_form
from tests.federation_entries_support import ALICE, members
from tests.federation_support import Pair
from web.cli import build_parser

pytest_plugins = ["tests.federation_fixtures"]


async def _record(pair: Pair) -> dict[str, Any]:
    """alice's record after one entry approved by restos (b.test) and one by amis (a.test, no moderation)."""
    team = await members(pair)
    await team.log(150, title="Tri des dons")
    await pair.settle()
    await team.decide(approve=True)
    await pair.settle()
    await pair.a.user("carol")
    amis = await pair.a.association("carol", "amis", moderate_entries=False)
    await post_form(team.alice, "/associations/amis/join", {}, page="/associations/amis")
    category = (await team.alice.get("/entries/new?association=amis")).text
    assert "amis" in category
    [first, *_rest] = sorted(await pair.a.rows(Category, Category.association_id == amis.id), key=lambda c: c.id)
    today = dt.date.today().isoformat()
    data = {"association": "amis", "start_date": today, "duration": "60", "title": "Accueil", "category": str(first.id)}
    assert (await post_form(team.alice, "/entries/new", data, page="/entries/new")).status_code == 303
    year = dt.date.today().year
    response = await team.alice.get(f"/me/record?start={year}-01-01&end={year}-12-31")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    document: dict[str, Any] = response.json()
    return document


async def test_the_record_holds_each_signed_accept_and_verifies_offline(pair: Pair) -> None:
    document = await _record(pair)

    assert document["volunteer"] == ALICE and len(document["entries"]) == 2
    actors = {accept["actor"] for accept in document["entries"]}
    assert actors == {"https://b.test/associations/restos", "https://a.test/associations/amis"}
    results = record.verify_record(document)
    assert [r.ok for r in results] == [True, True]
    assert {r.title for r in results} == {"Tri des dons", "Accueil"}

    changed = copy.deepcopy(document)
    changed["entries"][0]["object"]["duration"] = "PT12H"
    changed["entries"][1]["object"]["startTime"] = "2020-01-01T00:00:00+01:00"
    assert [r.ok for r in record.verify_record(changed)] == [False, False]


async def test_the_command_line_reports_which_entries_verify(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = await _record(pair)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(document))
    changed = copy.deepcopy(document)
    changed["entries"][0]["object"]["duration"] = "PT12H"
    bad.write_text(json.dumps(changed))

    settings = pair.a.instance.settings
    parser = build_parser()

    args = parser.parse_args(["verify", str(good)])
    assert await args.handler(args, settings) == 0
    assert "2 of 2 entries verify" in capsys.readouterr().out
    args = parser.parse_args(["verify", str(bad)])
    assert await args.handler(args, settings) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 of 2 entries verify" in out


async def test_another_instance_checks_it_against_the_published_keys(pair: Pair) -> None:
    document = await _record(pair)
    visitor = pair.b.browser()  # anyone, not logged in, on the other instance
    token = await csrf_token(visitor, "/verify")

    response = await visitor.post("/verify", data={"csrf_token": token, "record": json.dumps(document)})

    assert response.status_code == 200
    assert "2 of 2 entries verify" in response.text and "Tri des dons" in response.text
    forged = copy.deepcopy(document)
    forged["keys"][0]["publicKeyMultibase"] = forged["keys"][-1]["publicKeyMultibase"]
    forged["entries"][1]["object"]["duration"] = "PT9H"
    files = {"file": ("record.json", json.dumps(forged).encode(), "application/json")}
    response = await visitor.post("/verify", data={"csrf_token": token}, files=files)
    assert "1 of 2 entries verify" in response.text and "Does not verify" in response.text
    nonsense = await visitor.post("/verify", data={"csrf_token": token, "record": "{not json"})
    assert nonsense.status_code == 400 and "This is not a record" in nonsense.text


async def test_the_data_archive_carries_the_record(pair: Pair) -> None:
    team = await members(pair)
    await team.log(60)
    await pair.settle()
    await team.decide(approve=True)
    await pair.settle()

    response = await team.alice.get("/me/data/archive.zip")

    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        document = json.loads(archive.read("record.json"))
    assert [r.ok for r in record.verify_record(document)] == [True]
