"""``benevalibre import-benevalibre FILE``, run as a hosting collective would: a real process on the test
database, talking to the stand-in origin on loopback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from instance.models import Association, AssociationMove, Membership, MoveState, utcnow
from instance.runtime import Instance
from tests.conftest import create_user
from tests.test_import_support import StandInOrigin, export_for, origin, row_counts, vector

__all__ = ["origin"]

BENEVALIBRE = str(Path(sys.executable).parent / "benevalibre")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"dev_mode": True}


async def run(instance: Instance, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    settings = instance.settings
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BENEVALIBRE_")},
        "BENEVALIBRE_DATABASE_URL": settings.database,
        "BENEVALIBRE_DATA_DIR": str(tmp_path / "data"),
        "BENEVALIBRE_BASE_URL": settings.base_url,
        "BENEVALIBRE_SECRET_KEY": settings.secret_key,
        "BENEVALIBRE_DEV_MODE": "true",
    }
    command = [BENEVALIBRE, "import-benevalibre", *args]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120, check=False
    )


def write(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "export.json"
    path.write_bytes(content)
    return str(path)


async def test_the_command_imports_confirms_and_refuses_a_second_time(
    app: Starlette, instance: Instance, origin: StandInOrigin, tmp_path: Path
) -> None:
    await create_user(instance, "lea@example.org", "lea", display_name="Léa")
    file = write(tmp_path, export_for(origin))
    result = await run(instance, tmp_path, file, "--owner", "LEA@example.org")
    assert result.returncode == 0, result.stderr
    assert "Imported Les Jardins de la Clouère (@les-jardins-de-la-clouere@a.test)" in result.stdout
    assert "Accounts: 0 existing, 5 created (activation mail queued)." in result.stdout
    assert "entries                   30 -> 30" in result.stdout
    assert "time                   85 h 00 -> 85 h 00" in result.stdout
    assert "Totals per category, project and member: identical." in result.stdout
    assert "The origin instance confirmed the move." in result.stdout
    async with instance.sessions() as db:
        association = await db.scalar(select(Association))
        assert association is not None
        manager = await db.scalar(
            select(Membership).where(Membership.association_id == association.id, Membership.user.has(handle="lea"))
        )
        assert manager is not None and manager.role.manage_association

    before = await row_counts(instance)
    again = await run(instance, tmp_path, file)
    assert again.returncode == 2
    assert again.stderr.startswith("file: ") and utcnow().date().isoformat() in again.stderr  # already imported
    assert await row_counts(instance) == before
    assert (await row_counts(instance))["association_moves"] == 1
    async with instance.sessions() as db:
        move = await db.scalar(select(AssociationMove))
        assert move is not None and move.state == MoveState.CONFIRMED


async def test_the_command_names_what_is_wrong(
    app: Starlette, instance: Instance, origin: StandInOrigin, tmp_path: Path
) -> None:
    data = vector()
    data["metadata"]["app_version"] = "3.0.0"
    before = await row_counts(instance)
    result = await run(instance, tmp_path, write(tmp_path, export_for(origin, data)))
    assert result.returncode == 2
    assert result.stderr.startswith("file: ") and "3.0.0" in result.stderr  # (errors in the default language)
    missing = await run(instance, tmp_path, write(tmp_path, export_for(origin)), "--owner", "nobody@example.org")
    assert missing.returncode == 2
    assert missing.stderr.startswith("owner: ") and "nobody@example.org" in missing.stderr
    unreadable = await run(instance, tmp_path, str(tmp_path / "nowhere.json"))
    assert unreadable.returncode == 2 and "nowhere.json" in unreadable.stderr
    origin.stop()
    down = await run(instance, tmp_path, write(tmp_path, export_for(origin)))
    assert down.returncode == 2
    assert down.stderr.startswith("file: ") and "ConnectError" in down.stderr
    assert await row_counts(instance) == before
