"""``benevalibre import-benevalibre FILE``: bring an association over from Bénévalibre 2.x from the command line.

Errors are ValidationErrors, printed by ``instance.cli.run`` as ``field: message`` with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from instance.errors import ValidationError
from instance.i18n import lazy_gettext
from instance.runtime import Instance
from instance.services.benevalibre_format import MAX_FILE_BYTES
from instance.services.benevalibre_import import ImportResult, confirm_move, import_export
from instance.services.benevalibre_parse import parse_export
from instance.services.move_accounts import user_by_email
from instance.services.move_figures import COUNTS, DIMENSIONS
from instance.services.move_protocol import OriginClient, new_client
from instance.settings import Settings


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    move = commands.add_parser(
        "import-benevalibre", help="import an association exported by Bénévalibre 2.x (its move file)"
    )
    move.add_argument("file", metavar="FILE", help="the JSON export file")
    move.add_argument("--owner", metavar="EMAIL", help="an existing account that becomes the association's manager")
    move.add_argument("--rename", metavar="NEW_NAME", default="", help="another name, when the association's is taken")
    move.add_argument("--handle", default="", help="the association's handle (default: made from its name)")
    move.add_argument(
        "--no-origin-check",
        action="store_true",
        help="import without first asking the origin instance whether the move is still open",
    )
    move.set_defaults(handler=cmd_import_benevalibre)


def read_file(path: str) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ValidationError(
            {"file": lazy_gettext("Cannot read %(path)s: %(error)s", path=path, error=error)}
        ) from error


async def cmd_import_benevalibre(args: argparse.Namespace, settings: Settings) -> int:
    export = parse_export(read_file(args.file))
    instance = Instance.create(settings)
    try:
        async with instance.sessions() as db, new_client() as http:
            owner = None
            if args.owner:
                owner = await user_by_email(db, args.owner)
                if owner is None:
                    raise ValidationError(
                        {"owner": lazy_gettext("No account with the email %(email)s.", email=args.owner)}
                    )
            origin = OriginClient(http, instance.settings)
            result = await import_export(
                db,
                instance,
                export,
                owner=owner,
                importer=None,
                rename=args.rename,
                handle=args.handle,
                origin=None if args.no_origin_check else origin,
            )
            await db.commit()
            report(result, instance.settings.host)
            await confirm_move(db, origin, result.move, instance.settings.base_url)
            print(confirmation_line(result.move.state, result.move.last_error))
    finally:
        await instance.close()
    return 0


def _number(value: Any) -> str:
    return f"{value // 60} h {value % 60:02d}" if isinstance(value, int) else f"{value} km"


def report(result: ImportResult, host: str) -> None:
    association = result.association
    print(f"Imported {association.name} (@{association.handle}@{host}), status {association.status.value}.")
    print(f"Accounts: {len(result.matched)} existing, {len(result.created)} created (activation mail queued).")
    print("What                     file -> here")
    for name in COUNTS:
        print(f"  {name:22} {result.before.counts.get(name, 0):>5} -> {result.after.counts.get(name, 0)}")
    print(f"  {'time':22} {_number(result.before.total_minutes)} -> {_number(result.after.total_minutes)}")
    print(f"  {'distance':22} {_number(result.before.total_distance)} -> {_number(result.after.total_distance)}")
    same = all(
        result.before.minutes[d] == result.after.minutes[d] and result.before.distance[d] == result.after.distance[d]
        for d in DIMENSIONS
    )
    print("Totals per category, project and member: " + ("identical." if same else "DIFFERENT, check the import."))
    for warning in result.warnings:
        print(f"Note: {warning}")


def confirmation_line(state: str, error: str) -> str:
    if state == "confirmed":
        return "The origin instance confirmed the move."
    if state == "pending":
        return f"The origin instance could not be reached ({error}); the worker will retry the confirmation."
    return f"The origin instance refused the confirmation: {error}"
