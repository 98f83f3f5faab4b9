"""The ``benevalibre`` command: the instance's commands plus those that run the web server and the worker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

import uvicorn

from federation.runtime import Federation
from instance import cli
from instance.db import check_migrations
from instance.demo import DEMO_PASSWORD, seed_demo
from instance.logs import configure_logging
from instance.runtime import Instance
from instance.services.health import heartbeat_writer
from instance.settings import Settings
from instance.worker import Worker
from web.app import create_app


def build_parser() -> argparse.ArgumentParser:
    parser, commands = cli.build_parser()
    serve = commands.add_parser("serve", help="run the web server (and, by default, the worker in the same process)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="run the background worker alone (mail, federation)")
    worker.set_defaults(handler=cmd_worker)

    demo = commands.add_parser("demo", help="set up a demo instance with sample data and serve it")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--data-dir", default="demo-data", help="folder for the demo's database (default demo-data)")
    demo.set_defaults(handler=cmd_demo)
    return parser


async def _ensure_migrated(settings: Settings) -> None:
    instance = Instance.create(settings)
    try:
        await check_migrations(instance.engine)
    finally:
        await instance.close()


async def serve(settings: Settings, host: str, port: int) -> None:
    configure_logging(settings)
    app = create_app(settings, run_worker=settings.worker_in_process)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=True,
        log_config=None,  # configure_logging's format; access lines come from web.ops_middleware
        access_log=False,
    )
    await uvicorn.Server(config).serve()


async def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    await _ensure_migrated(settings)
    await serve(settings, args.host, args.port)
    return 0


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    await _ensure_migrated(settings)
    instance = Instance.create(settings)
    federation = Federation(instance)
    configure_logging(settings)
    worker = Worker(
        [*instance.tasks, *federation.tasks()],
        settings.worker_poll_interval,
        heartbeat=heartbeat_writer(instance.sessions),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, worker.stop)
    try:
        await worker.run_forever()
    finally:
        await federation.aclose()
        await instance.close()
    return 0


async def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    origin = f"http://{args.host}:{args.port}"
    demo_settings = Settings.load(data_dir=args.data_dir, base_url=origin, dev_mode=True, database_url="")
    await cli.cmd_init(args, demo_settings)
    instance = Instance.create(demo_settings)
    try:
        async with instance.sessions() as db:
            logins = await seed_demo(db, instance.settings)
            await db.commit()
    finally:
        await instance.close()
    print(f"\nbenevalibre-fed demo: open {origin}/ in your browser")
    print(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, what in logins:
        print(f"  {email:32} {what}")
    print("Stop with Ctrl+C.\n", flush=True)
    await serve(demo_settings, args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(cli.run(build_parser(), argv))
