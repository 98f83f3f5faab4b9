"""Write the next migration from the difference between the models and the latest migration.

.venv/bin/python tools/new_migration.py "what changed"

Released migrations are never edited: a change to the models gets a new file, numbered after the head.
Read the generated file before committing it (autogenerate misses renames and data moves).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command

from instance.db import alembic_config, create_engine, head_revision, upgrade
from instance.settings import Settings


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    head = head_revision()
    number = f"{int(head or 0) + 1:04d}"
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{Path(folder) / 'head.sqlite3'}", secret_key="x")
        asyncio.run(_migrate(settings))
        command.revision(alembic_config(settings), message=sys.argv[1], autogenerate=True, rev_id=number)
    print("written: migration", number)


if __name__ == "__main__":
    main()
