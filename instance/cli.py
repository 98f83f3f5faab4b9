"""The instance admin's command line: create or upgrade the database, create users and associations.

``web.cli`` adds the commands that need the web layer (serve, worker, demo) to this parser.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from sqlalchemy import select

from instance import move_cli, ops_cli
from instance.db import upgrade
from instance.errors import DomainError, NotMigrated, ValidationError
from instance.models import User
from instance.runtime import Instance, event_loop_factory
from instance.services.accounts import create_user
from instance.services.associations import create_association
from instance.settings import Settings, SettingsError

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


class CommandError(Exception):
    """A command cannot do what was asked; the message is printed and the exit status is 2."""


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="benevalibre",
        description="Run and administer a benevalibre-fed instance. Settings come from BENEVALIBRE_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the database or upgrade it to the latest migration")
    init.set_defaults(handler=cmd_init)

    user = commands.add_parser("create-user", help="create a confirmed account")
    user.add_argument("email")
    user.add_argument("--password", help="the password (asked for when omitted)")
    user.add_argument("--name", default="", help="display name")
    user.add_argument("--handle", help="handle (default: the part of the email before @)")
    user.add_argument("--admin", action="store_true", help="make this account an instance admin")
    user.set_defaults(handler=cmd_create_user)

    association = commands.add_parser("create-association", help="create an approved association")
    association.add_argument("handle")
    association.add_argument("--name", required=True, help="the association's name")
    association.add_argument("--owner", required=True, metavar="EMAIL", help="email of its first manager")
    association.add_argument("--description", default="")
    association.add_argument("--moderate-membership", action="store_true", help="new members wait for approval")
    association.add_argument(
        "--moderate-entries", action="store_true", help="time entries wait for a manager's approval"
    )
    association.set_defaults(handler=cmd_create_association)
    move_cli.add_command(commands)
    ops_cli.add_commands(commands)
    return parser, commands


async def with_instance(settings: Settings, action: Callable[[Instance], Awaitable[int]]) -> int:
    instance = Instance.create(settings)
    try:
        return await action(instance)
    finally:
        await instance.close()


async def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    async def run(instance: Instance) -> int:
        await upgrade(instance.engine)
        print(f"Database ready at the latest migration: {instance.settings.database}")
        return 0

    return await with_instance(settings, run)


async def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            raise CommandError("--password is required when not run in a terminal.")
        password = getpass.getpass("Password: ")
    handle = args.handle or args.email.split("@", 1)[0]

    async def run(instance: Instance) -> int:
        async with instance.sessions() as db:
            user = await create_user(
                db,
                email=args.email,
                password=password,
                handle=handle,
                display_name=args.name or handle,
                active=True,
                admin=args.admin,
            )
            await db.commit()
        role = "admin" if user.is_admin else "user"
        print(f"Created {role} {user.email} (@{user.handle}@{instance.settings.host}).")
        return 0

    return await with_instance(settings, run)


async def cmd_create_association(args: argparse.Namespace, settings: Settings) -> int:
    async def run(instance: Instance) -> int:
        async with instance.sessions() as db:
            owner = await db.scalar(select(User).where(User.email == args.owner.strip().lower()))
            if owner is None:
                raise CommandError(f"No account with the email {args.owner}; create it with create-user first.")
            association = await create_association(
                db,
                instance.settings,
                owner,
                handle=args.handle,
                name=args.name,
                description=args.description,
                moderate_membership=args.moderate_membership,
                moderate_entries=args.moderate_entries,
                approved=True,
            )
            await db.commit()
        print(f"Created association {association.name} (@{association.handle}@{instance.settings.host}).")
        return 0

    return await with_instance(settings, run)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, and turn every expected failure into a message and a status."""
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = Settings.load()
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(handler(args, settings))
    except SettingsError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
    except ValidationError as error:
        for field, message in error.fields.items():
            print(f"{field}: {message}", file=sys.stderr)
        if error.message:
            print(str(error.message), file=sys.stderr)
    except (DomainError, CommandError, NotMigrated) as error:
        print(str(getattr(error, "message", "") or error), file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 2
