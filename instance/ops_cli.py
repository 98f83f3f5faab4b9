"""``benevalibre backup``, ``benevalibre restore`` and ``benevalibre check``: the commands of running an instance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from instance import backup, checks
from instance.settings import Settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    save = commands.add_parser("backup", help="save the database and the secret key (SQLite snapshot or pg_dump)")
    save.add_argument("--output", type=Path, help="the backup file (default: DATA_DIR/backups/benevalibre-DATE.*)")
    save.set_defaults(handler=cmd_backup)

    restore = commands.add_parser("restore", help="restore a backup made by `benevalibre backup`")
    restore.add_argument("path", type=Path, help="the backup file")
    restore.add_argument("--force", action="store_true", help="replace a database (and a key) that is not empty")
    restore.set_defaults(handler=cmd_restore)

    check = commands.add_parser("check", help="check the configuration; exit 1 when something must be fixed")
    check.set_defaults(handler=cmd_check)


def _report(status: int, lines: list[str]) -> int:
    print("\n".join(lines))
    return status


async def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        outcome = backup.backup(settings, args.output)
    except backup.BackupError as error:
        print(str(error), file=sys.stderr)
        return 2
    return _report(outcome.status, outcome.lines)


async def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    try:
        outcome = await backup.restore(settings, args.path, args.force)
    except backup.BackupError as error:
        print(str(error), file=sys.stderr)
        return 2
    return _report(outcome.status, outcome.lines)


async def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    problems = await checks.check_configuration(settings)
    for problem in problems:
        print(f"{problem.level}: {problem.message}")
    errors = sum(problem.level == "error" for problem in problems)
    if errors:
        print(f"{errors} error(s) to fix, {len(problems) - errors} warning(s).")
        return 1
    print(f"The configuration is fit to run an instance ({len(problems)} warning(s)).")
    return 0
