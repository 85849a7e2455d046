"""`hwc`: serve, demo, migrate, admin-link, send, status, fake-push."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from server import db as database
from server.settings import Settings

DEMO_DATABASE = "hwc-demo.db"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwc", description="Handle with Care signal relay: server and tools.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the server (uvicorn)",
                                description="Run the server. Settings come from HWC_* variables.")
    _server_options(serve, host="127.0.0.1")
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser(
        "demo", help="demo data and a server on http://localhost:8000",
        description="Create (or reuse) a demo database with a school, a Veilig Thuis team, a "
                    "leerplicht office and one person per role; print each person's enrolment "
                    "link; serve on http://localhost:8000.")
    _server_options(demo, host="127.0.0.1", database_default=DEMO_DATABASE)
    demo.add_argument("--no-serve", action="store_true", help="only create and print")
    demo.add_argument("--speed", type=float, default=1.0,
                      help="run the clock this many times faster (e.g. 600: a week in 17 min)")
    demo.set_defaults(run=cmd_demo)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--database", default=None, help="SQLite file (default HWC_DATABASE)")
    migrate.set_defaults(run=cmd_migrate)

    admin_link = commands.add_parser(
        "admin-link", help="make the first admin and print an enrolment link and QR code")
    admin_link.add_argument("name", help="the admin's name")
    admin_link.add_argument("--database", default=None)
    admin_link.set_defaults(run=cmd_admin_link)

    backup = commands.add_parser(
        "backup", help="back up the directory, never signal data",
        description="Write schools, organisations, people, devices (public keys), enrolment "
                    "state and keys to PATH. Signals, envelopes and pushes are never copied.")
    backup.add_argument("path", help="the backup file to write")
    backup.add_argument("--database", default=None)
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser(
        "restore", help="restore a backup (stop the server first)",
        description="Put a backup in place of the database. Pending signals are not in a "
                    "backup: senders see them as lost and phone the school.")
    restore.add_argument("path", help="the backup file")
    restore.add_argument("--database", default=None)
    restore.add_argument("--force", action="store_true", help="replace an existing database")
    restore.set_defaults(run=cmd_restore)

    fake = commands.add_parser("fake-push", help="run a local fake push service (demos, tests)")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8123)
    fake.set_defaults(run=cmd_fake_push)

    from server import client

    client.add_commands(commands)
    return parser


def _server_options(parser: argparse.ArgumentParser, host: str,
                    database_default: str | None = None) -> None:
    parser.add_argument("--host", default=host, help=f"address to listen on (default {host})")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                        help="port (default $PORT or 8000)")
    parser.add_argument("--database", default=database_default,
                        help="SQLite file (default HWC_DATABASE or hwc.db)")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"database": args.database} if getattr(args, "database", None) else {}
    return Settings.from_env(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    settings = _settings(args)
    try:
        app = create_app(settings)
    except database.DatabaseDamaged as error:
        print(error, file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, server_header=False,
                proxy_headers=True,
                forwarded_allow_ips=settings.trusted_proxy, log_level="warning")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = database.connect(settings.database)  # connecting migrates
    print(f"{settings.database}: schema version {database.schema_version(db)}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from server import ops

    counts = ops.backup(database.connect(_settings(args).database), Path(args.path))
    print(f"Backup written to {args.path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from server import ops

    target = Path(_settings(args).database)
    try:
        ops.restore(Path(args.path), target, force=args.force)
    except ops.RestoreRefused as refused:
        print(f"Refused: {refused}", file=sys.stderr)
        return 1
    print(f"Restored {args.path} to {target}. Pending signals are not in a backup.")
    return 0


def cmd_admin_link(args: argparse.Namespace) -> int:
    import segno

    from server import auth, directory
    from server.app import create_app
    from server.models import NewPerson

    settings = _settings(args).replace(run_workers=False)
    app = create_app(settings)
    db, now = app.state.db, time.time()
    person_id = directory.create_person(db, NewPerson(name=args.name, role="admin"), now)
    token = auth.make_enrol_token(db, app.state.secret_key, person_id, None, now,
                                  settings.enrol_token_days)
    link = auth.enrol_link(settings.base_url, token)
    print(f"Aanmeldlink voor {args.name} (beheerder), eenmalig te gebruiken:\n{link}\n")
    segno.make(link, error="m").terminal(compact=True)
    return 0


def cmd_fake_push(args: argparse.Namespace) -> int:
    from server.fakepush import run_fake_push

    run_fake_push(host=args.host, port=args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.app import create_app
    from server.clock import Clock
    from server.demo import seed_demo

    settings = _settings(args).replace(base_url=f"http://localhost:{args.port}")
    app = create_app(settings, Clock(speed=args.speed))
    for line in seed_demo(app):
        print(line)
    sys.stdout.flush()
    if args.no_serve:
        return 0
    import uvicorn

    print(f"\nDe demo draait op http://localhost:{args.port} (stoppen: Ctrl+C)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
