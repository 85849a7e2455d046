"""`hwc`: serve, demo, migrate, admin-link, backup, restore, api-keys, revoke-api-key,
send, register-key, status, audit, fake-push."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
        prog="hwc", description="Handle with Care signal relay: server and tools."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the server (uvicorn)",
        description="Run the server. Settings come from HWC_* variables.",
    )
    _server_options(serve, host="127.0.0.1")
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser(
        "demo",
        help="demo data and a server on http://localhost:8000",
        description="Create (or reuse) a demo database with a school, a Veilig Thuis team, a "
        "leerplicht office and one person per role; print each person's enrolment "
        "link; serve on http://localhost:8000.",
    )
    _server_options(demo, host="127.0.0.1", database_default=DEMO_DATABASE)
    demo.add_argument("--no-serve", action="store_true", help="only create and print")
    demo.add_argument(
        "--https",
        action="store_true",
        help="serve https with a self-signed certificate made now (Safari/WebKit needs it)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="run the clock this many times faster (e.g. 600: a week in 17 min)",
    )
    demo.set_defaults(run=cmd_demo)

    _database_command(commands, "migrate", cmd_migrate, "bring the database schema up to date")

    admin_link = _database_command(
        commands,
        "admin-link",
        cmd_admin_link,
        "make the first admin and print an enrolment link and QR code",
    )
    admin_link.add_argument("name", help="the admin's name")

    backup = _database_command(
        commands,
        "backup",
        cmd_backup,
        "back up the directory, never signal data",
        "Write schools, organisations, people, devices (public keys), enrolment state and keys "
        "to PATH. Signals, envelopes and pushes are never copied.",
    )
    backup.add_argument("path", help="the backup file to write")

    restore = _database_command(
        commands,
        "restore",
        cmd_restore,
        "restore a backup (stop the server first)",
        "Put a backup in place of the database. Pending signals are not in a backup: senders "
        "see them as lost and phone the school.",
    )
    restore.add_argument("path", help="the backup file")
    restore.add_argument("--force", action="store_true", help="replace an existing database")

    _database_command(
        commands,
        "api-keys",
        cmd_api_keys,
        "list organisation API keys: id, label, creation, last use (no secrets)",
    )
    revoke_key = _database_command(
        commands,
        "revoke-api-key",
        cmd_revoke_api_key,
        "revoke an organisation API key at once",
        "Revoke an API key; its next request gets 401. Works while the server runs.",
    )
    revoke_key.add_argument("key", help="the key's id (hwc api-keys, the admin page)")

    register = _database_command(
        commands,
        "import-register",
        cmd_import_register,
        "import DUO's register of school locations: adds, renames, closes",
        "Read DUO's file of school locations (CSV with ';', its own header) and bring the "
        "schools up to date: new locations added, renamed ones renamed, locations the file no "
        "longer lists closed (their people, devices and signals stay). Works while the server "
        "runs.",
    )
    register.add_argument("file", help="DUO's CSV file (UTF-8 or Windows-1252)")

    fake = commands.add_parser("fake-push", help="run a local fake push service (demos, tests)")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8123)
    fake.set_defaults(run=cmd_fake_push)

    from server import audit, client

    client.add_commands(commands)
    audit.add_commands(commands)
    return parser


def _database_command(
    commands: Any,
    name: str,
    run: Callable[[argparse.Namespace], int],
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A command that works on the database file (HWC_DATABASE unless --database)."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help, description=description)
    parser.add_argument("--database", default=None, help="SQLite file (default HWC_DATABASE)")
    parser.set_defaults(run=run)
    return parser


def _server_options(
    parser: argparse.ArgumentParser, host: str, database_default: str | None = None
) -> None:
    parser.add_argument("--host", default=host, help=f"address to listen on (default {host})")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port (default $PORT or 8000)",
    )
    parser.add_argument(
        "--database", default=database_default, help="SQLite file (default HWC_DATABASE or hwc.db)"
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"database": args.database} if getattr(args, "database", None) else {}
    return Settings.from_env(**overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import create_app

    settings = _settings(args)
    try:
        app = create_app(settings)
    except database.DatabaseDamaged as error:
        print(error, file=sys.stderr)
        return 1
    run_server(app, settings, args.host, args.port)
    return 0


def run_server(
    app: Any, settings: Settings, host: str, port: int, tls: tuple[Any, Any] | None = None
) -> None:
    """uvicorn as `hwc serve`, `hwc demo` and the Procfile run it: X-Forwarded-* only from the
    configured proxy, and a bound on slow and idle connections (server/connections.py);
    `tls` is (certificate file, key file) for `hwc demo --https`."""
    import uvicorn

    from server.connections import bounded_protocol

    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        proxy_headers=bool(settings.trusted_proxy),
        forwarded_allow_ips=settings.trusted_proxy or None,
        http=bounded_protocol(
            settings.header_timeout_seconds, settings.body_timeout_seconds, settings.max_connections
        ),
        log_level="warning",
        ssl_certfile=tls and str(tls[0]),
        ssl_keyfile=tls and str(tls[1]),
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = database.connect(settings.database)  # connecting migrates
    print(f"{settings.database}: schema version {database.schema_version(db)}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from server import ops

    db = database.connect(_settings(args).database)
    try:
        counts = ops.backup(db, Path(args.path))
    finally:
        db.close()  # a caller in the same process (a test) may restore over this file next
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
    print(
        f"Restored {args.path} to {target}. Pending signals are not in a backup. "
        "People erased since this backup was made are in it again: erase them again."
    )
    return 0


def cmd_admin_link(args: argparse.Namespace) -> int:
    import segno

    from server import auth, directory
    from server.app import create_app
    from server.models import NewPerson, TextRefused

    try:
        admin = NewPerson(name=args.name, role="admin")
    except TextRefused as refused:
        print(refused, file=sys.stderr)
        return 1
    settings = _settings(args).replace(run_workers=False)
    app = create_app(settings)
    db, now = app.state.db, time.time()
    person_id = directory.create_person(db, admin, now)
    token = auth.make_enrol_token(
        db, app.state.secret_key, person_id, None, now, settings.enrol_token_days
    )
    link = auth.enrol_link(settings.base_url, token)
    print(f"Aanmeldlink voor {args.name} (beheerder), eenmalig te gebruiken:\n{link}\n")
    segno.make(link, error="m").terminal(compact=True)
    return 0


def cmd_api_keys(args: argparse.Namespace) -> int:
    from server import auth
    from server.clock import local_text

    for key in auth.api_keys(database.connect(_settings(args).database)):
        state = f"ingetrokken {local_text(key['revoked_at'])}" if key["revoked_at"] else "actief"
        print(
            f"{key['id']}  {key['org_name']} · {key['label']}  gemaakt "
            f"{local_text(key['created_at'])}  laatst gebruikt "
            f"{local_text(key['last_used_at'])}  {state}"
        )
    return 0


def cmd_revoke_api_key(args: argparse.Namespace) -> int:
    from server import auth

    key_id = auth.api_key_id(args.key)
    if not auth.revoke_api_key(database.connect(_settings(args).database), key_id, time.time()):
        print(f"Geen API-sleutel met id {key_id}.", file=sys.stderr)
        return 1
    print(f"API-sleutel {key_id} is ingetrokken.")
    return 0


def cmd_import_register(args: argparse.Namespace) -> int:
    from server import register
    from server.errors import DomainError
    from server.web import message_of

    raw = Path(args.file).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    try:
        changes = register.import_register(
            database.connect(_settings(args).database), text, time.time()
        )
    except DomainError as error:
        print(message_of(error), file=sys.stderr)
        return 1
    print(changes.summary())
    return 0


def cmd_fake_push(args: argparse.Namespace) -> int:
    from server.fakepush import run_fake_push

    run_fake_push(host=args.host, port=args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.app import create_app
    from server.clock import Clock
    from server.demo import seed_demo

    origin = f"{'https' if args.https else 'http'}://localhost:{args.port}"
    settings = _settings(args).replace(base_url=origin)
    app = create_app(settings, Clock(speed=args.speed))
    for line in seed_demo(app):
        print(line)
    sys.stdout.flush()
    if args.no_serve:
        return 0
    tls = None
    if args.https:
        from server.tls import self_signed

        tls = self_signed(Path(tempfile.mkdtemp(prefix="hwc-demo-tls-")))
        print(
            "\nHet certificaat is zelfgemaakt: de browser waarschuwt eerst; kies daar "
            "'doorgaan naar localhost'.",
            flush=True,
        )
    else:
        print(
            "\nSafari bewaart de aanmelding alleen via https: start voor Safari hwc demo --https.",
            flush=True,
        )
    print(f"\nDe demo draait op {origin} (stoppen: Ctrl+C)", flush=True)
    run_server(app, settings, args.host, args.port, tls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
