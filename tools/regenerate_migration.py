"""Regenerate the initial migration from the models (used until the first release; later, add migrations).

.venv/bin/python tools/regenerate_migration.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from instance.db import MIGRATIONS_DIR, alembic_config
from instance.settings import Settings

VERSIONS = MIGRATIONS_DIR / "versions"


def main() -> None:
    for old in VERSIONS.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{Path(folder) / 'empty.sqlite3'}", secret_key="x")
        config = alembic_config(settings)
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
    print("written:", *sorted(p.name for p in VERSIONS.glob("*.py")))


if __name__ == "__main__":
    main()
