"""The lensgraph command: serve, demo, backup, restore, account, schema.

Every setting is a flag of `serve` and an environment variable; `lensgraph
serve --help` lists each with its default. Failures a user can fix (a port in
use, a bad database URL, an invalid setting, an unreachable or too-new
database) print one line and exit 2 (1 for an unreachable database).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import logging
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from graph.app.settings import Settings
from storage.contract import Conflict, SchemaTooNew, StoreUnavailable
from storage.open import UnsupportedDatabase, redact
from storage.sqlite.backup import BackupError

log = logging.getLogger("lensgraph")


class StartupError(Exception):
    """A reason not to start, said in one line."""


def _version() -> str:
    try:
        return version("lensgraph")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in Settings.model_fields}
    return Settings.from_env(**overrides)


def _logging(level: str, pids: bool = False) -> None:
    """pids: with several workers each line says which process wrote it."""
    pid = "[%(process)d] " if pids else ""
    logging.basicConfig(level=level.upper(), format=f"%(asctime)s {pid}%(levelname)s %(name)s: %(message)s")


def _loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _banner(settings: Settings, port: int) -> None:
    from graph.app.factory import families

    base = f"http://{settings.host if ':' not in settings.host else f'[{settings.host}]'}:{port}"
    if settings.dev_mode:
        log.warning(
            "DEV MODE: no admin key configured, so requests without a key are accepted as the admin of the "
            "default project. Set LENSGRAPH_API_KEY (or LENSGRAPH_REQUIRE_AUTH=true) before exposing this server."
        )
    else:
        log.info("auth: keys required (%s)", "admin key configured" if settings.api_key else "project keys only")
    for prefix, family in families(settings):
        log.info("REST %-34s %s%s", family.name, base, prefix if prefix != "/" else "/")
    log.info("GraphQL %s/graphql (websocket subscriptions on the same URL)", base)
    log.info("SSE %s/stream", base)
    log.info("API reference %s/docs, metrics %s/metrics, health %s/healthz and %s/readyz", base, base, base, base)
    log.info("LensGraph %s listening on %s (database %s)", _version(), base, redact(settings.database_url))


def _check_exposure(settings: Settings) -> None:
    if settings.dev_mode and not settings.allow_remote_dev_mode and not _loopback(settings.host):
        raise StartupError(
            f"refusing to listen on {settings.host} in dev mode (no authentication): set LENSGRAPH_API_KEY, "
            "or pass --allow-remote-dev-mode if this network is trusted"
        )


async def _serve(settings: Settings, demo: bool, ready_fd: int | None = None) -> None:
    """ready_fd: set in a worker of `serve --workers N`; it listens with reuse_port, tells the parent on this
    descriptor once it does, and leaves the banner to the parent."""
    from graph.app import memdebug
    from graph.app.factory import create_app, store_for
    from graph.app.workers import tell_ready
    from graph.rest.keys import SERVICES

    _check_exposure(settings)
    store = store_for(settings)  # fails on an unsupported URL before anything starts
    app = create_app(settings, store=store)
    memdebug.install(app)
    if demo:

        async def load(app: web.Application) -> None:
            from resolvers.core.services import DEFAULT_PROJECT
            from resolvers.traces.demo import load_demo

            try:
                stored = await load_demo(app[SERVICES], DEFAULT_PROJECT)
            except StoreUnavailable as exc:  # a full disk: serve what is there rather than not start
                log.warning("demo data not loaded: %s", exc.for_log())
                return
            log.info("demo data: %s", f"{stored} events loaded" if stored else "present")

        app.on_startup.append(load)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=logging.getLogger("aiohttp.access") if settings.access_log else None,
        # A client that goes away cancels its handler: live streams leave the bus at once.
        handler_cancellation=True,
        shutdown_timeout=settings.shutdown_seconds,
    )
    await runner.setup()
    # What start-up allocated (modules, schema, store) lives as long as the server: out of the garbage
    # collector's generations, full collections walk only what requests leave. A document near the token
    # limit leaves some 45,000 objects in reference cycles; collecting two requests' worth took 50-130 ms
    # with the start-up objects walked too, 10-50 ms without.
    gc.collect()
    gc.freeze()
    # A request allocates thousands of short-lived objects (a batch of 100 events, a 1,000-event trace): at
    # CPython's default of a young collection every 700 allocations, the collector ran many times per request.
    # Every 7,000 it runs a tenth as often; full collections stay as frequent as the defaults make them (every
    # 70,000 allocations, 10 x 7,000 x 1 as 700 x 10 x 10), so garbage in cycles is freed as soon as before.
    # Batches of 100 went from 14,244-14,899 to 15,720-16,449 events/s, peak RSS +1 MiB (bench/README.md,
    # "Fewer young collections").
    gc.set_threshold(7_000, 10, 1)
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_port=ready_fd is not None or None)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None
        if ready_fd is None:
            port = int(runner.addresses[0][1]) if runner.addresses else settings.port
            _banner(settings, port)
        else:
            tell_ready(ready_fd)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down: closing live streams, draining requests (at most %.0f s)", settings.shutdown_seconds)
    finally:
        await runner.cleanup()
    log.info("stopped")


def serve(args: argparse.Namespace) -> int:
    from graph.app import workers

    settings = _settings(args)
    worker_fd = workers.ready_fd()
    _logging(settings.log_level, pids=settings.workers > 1 or worker_fd is not None)
    if settings.workers > 1 and worker_fd is None:
        if not workers.supported():
            raise StartupError("--workers above 1 needs Linux (SO_REUSEPORT spreads connections over the workers)")
        _check_exposure(settings)
        try:
            return workers.Supervisor(settings, args.demo).run(lambda port: _banner(settings, port))
        except workers.WorkersError as exc:
            if str(exc):
                print(f"lensgraph: {exc}", file=sys.stderr)
            return exc.exit_code
    from graph.app.malloc_arenas import cap_arenas

    cap_arenas()  # before the store starts its threads
    asyncio.run(_serve(settings, args.demo, worker_fd))
    return 0


def demo(args: argparse.Namespace) -> int:
    from graph.app.factory import store_for
    from resolvers.core.services import DEFAULT_PROJECT, Services
    from resolvers.projects.service import ensure_default
    from resolvers.traces.demo import load_demo

    settings = _settings(args)
    _logging(settings.log_level)

    async def run() -> int:
        store = store_for(settings)
        await store.start()
        try:
            services = Services.build(store)
            await ensure_default(services, DEFAULT_PROJECT)
            return await load_demo(services, DEFAULT_PROJECT)
        finally:
            await store.close()

    stored = asyncio.run(run())
    print(f"demo data: {stored} events loaded" if stored else "demo data already present")
    return 0


def _sqlite_file(settings: Settings, verb: str) -> Path:
    from storage.open import sqlite_path

    if not settings.database_url.startswith("sqlite:"):
        raise StartupError(
            f"{verb} handles the embedded SQLite database; for MongoDB use mongodump and mongorestore "
            "(see docs/mongodb.md)"
        )
    return sqlite_path(settings.database_url)


def backup(args: argparse.Namespace) -> int:
    from storage.sqlite.backup import backup as take

    settings = _settings(args)
    written = take(_sqlite_file(settings, "backup"), Path(args.destination))
    print(f"backup of {redact(settings.database_url)} written to {args.destination} ({written} bytes)")
    return 0


def restore(args: argparse.Namespace) -> int:
    from storage.sqlite.backup import restore as put_back

    settings = _settings(args)
    database = _sqlite_file(settings, "restore")
    put_back(Path(args.source), database)
    print(f"restored {args.source} into {database}")
    return 0


def account_create(args: argparse.Namespace) -> int:
    """An account and its first key, printed once (only its hash is stored)."""
    from graph.app.factory import store_for
    from resolvers.core.errors import InputError
    from resolvers.core.services import Services
    from resolvers.projects.accounts import create_account

    settings = _settings(args)
    _logging(settings.log_level)

    async def run() -> tuple[str, str]:
        store = store_for(settings)
        await store.start()
        try:
            issued = await create_account(
                Services.build(store), args.name, projects_limit=args.projects_limit, tier=args.tier
            )
            return issued.account.id, issued.api_key
        finally:
            await store.close()

    try:
        account_id, key = asyncio.run(run())
    except (InputError, Conflict) as exc:
        raise StartupError(str(exc)) from None
    limit = "no limit" if args.projects_limit is None else f"at most {args.projects_limit} projects"
    print(f"account {args.name!r} created: id {account_id}, tier {args.tier}, {limit}")
    print(f"API key (shown once, keep it now; send it as X-API-Key): {key}")
    return 0


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def schema(args: argparse.Namespace) -> int:
    from graph.schema.build import export_sdl

    sdl = export_sdl()
    if args.output:
        Path(args.output).write_text(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _add_settings(parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None) -> None:
    for name, field in Settings.model_fields.items():
        if only is not None and name not in only:
            continue
        flag = "--" + name.replace("_", "-")
        aliases = ["--database"] if name == "database_url" else []
        default = "none" if field.default is None else field.default
        help_text = f"{field.description} (default: {default}; env {Settings.env_name(name)})"
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
        if field.annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        parser.add_argument(flag, *aliases, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lensgraph", description="LensGraph: a GraphQL analytics backend for AI agents."
    )
    parser.add_argument("--version", action="version", version=f"lensgraph {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the server")
    _add_settings(p)
    p.add_argument("--demo", action="store_true", help="load the demo sample first (once)")
    p.set_defaults(func=serve)
    p = sub.add_parser("demo", help="load the demo sample into the database and exit")
    _add_settings(p, ("database_url", "log_level"))
    p.set_defaults(func=demo)
    p = sub.add_parser("backup", help="copy the SQLite database to DESTINATION while the server runs")
    p.add_argument("destination", help="a new file")
    _add_settings(p, ("database_url", "log_level"))
    p.set_defaults(func=backup)
    p = sub.add_parser("restore", help="replace the SQLite database with a backup (the server must be stopped)")
    p.add_argument("source", help="a file written by lensgraph backup")
    _add_settings(p, ("database_url", "log_level"))
    p.set_defaults(func=restore)
    p = sub.add_parser("account", help="manage accounts (seed 003's account keys)")
    accounts = p.add_subparsers(dest="account_command", required=True)
    p = accounts.add_parser("create", help="create an account and print its first API key (shown once)")
    p.add_argument("name", help="the account's name (unique)")
    p.add_argument("--projects-limit", type=_non_negative, default=None,
                   help="most projects it may own (default: no limit)")
    p.add_argument("--tier", default="self-hosted", help="the tier GET /account reports (default: self-hosted)")
    _add_settings(p, ("database_url", "log_level"))
    p.set_defaults(func=account_create)
    p = sub.add_parser("schema", help="print the GraphQL SDL (or write it with --output)")
    p.add_argument("--output")
    p.set_defaults(func=schema)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"])
            print(f"lensgraph: invalid setting {name} ({Settings.env_name(name)}): {error['msg']}", file=sys.stderr)
        return 2
    except (StartupError, UnsupportedDatabase, SchemaTooNew, BackupError) as exc:
        print(f"lensgraph: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"lensgraph: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
