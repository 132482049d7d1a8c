"""`ledgrab serve | backup | restore | keys …`: the command line; config errors exit with 2."""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from ledgrab import __version__
from ledgrab.config import ConfigError, Settings, load_settings
from ledgrab.storage.data_dir import DataDirError, existing_database, prepare_for_serving
from ledgrab.utils.plain_text import displayable
from ledgrab.utils.private_files import open_private, private_new_files

__all__ = ["main"]

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledgrab", description="LedGrab LED controller")
    parser.add_argument("--version", action="version", version=f"ledgrab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", help="TOML file (default: $LEDGRAB_CONFIG)")
        sub.add_argument("--data-dir", help="state directory (default: $LEDGRAB_DATA_DIR, ./data)")

    serve = commands.add_parser("serve", help="run the server")
    common(serve)
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks one)")

    backup = commands.add_parser(
        "backup", help="copy the database to FILE (safe while the server runs)"
    )
    common(backup)
    backup.add_argument("file", help="destination file, or a directory to put a dated file in")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    restore = commands.add_parser(
        "restore", help="replace the database with FILE (refused while the server runs)"
    )
    common(restore)
    restore.add_argument("file", help="a backup made by `ledgrab backup` or the web UI")

    export = commands.add_parser(
        "export", help="write the activity log (committed entries) as CSV, JSON or NDJSON"
    )
    common(export)
    export.add_argument("--format", choices=("csv", "json", "ndjson"), default="csv")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.add_argument("--category", action="append", help="repeatable: entity, auth, …")
    export.add_argument("--severity", action="append", help="repeatable: info, warning, …")
    for name in ("actor", "entity-type", "entity-id", "message-like"):
        export.add_argument(f"--{name}")
    export.add_argument("--since", help="ISO 8601 with an offset, e.g. 2026-11-01T00:00+00:00")
    export.add_argument("--until", help="ISO 8601 with an offset")

    _add_verify_parser(commands, common)
    _add_upgrade_parsers(commands, common)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    for name, text in (("list", "list labels"), ("create", "create a key"), ("revoke", "revoke")):
        sub = key_commands.add_parser(name, help=text)
        common(sub)
        if name != "list":
            sub.add_argument("label")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with private_new_files():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            args.config,
            overrides={
                "host": getattr(args, "host", None),
                "port": getattr(args, "port", None),
                "data_dir": args.data_dir,
            },
        )
    except ConfigError as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        if args.command == "serve":
            return _serve(settings)
        if args.command in ("backup", "restore"):
            return _backup_or_restore(settings, args)
        if args.command == "export":
            return _export(settings, args)
        if args.command == "verify":
            return _verify(settings, args)
        if args.command in ("migrate", "record-upgrade"):
            return _migrate_or_record(settings, args)
        return _keys(settings, args)
    except DataDirError as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _database(settings: Settings) -> Path:
    """The database a server already made: the commands other than serve never create one."""
    from ledgrab.app import DATABASE_FILE

    return existing_database(Path(settings.data_dir), DATABASE_FILE)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from ledgrab.core.activity_log.offline_export import ExportError, build_filters, export_to

    try:
        filters = build_filters(
            categories=args.category,
            severities=args.severity,
            actor=args.actor,
            entity_type=args.entity_type,
            entity_id=args.entity_id,
            since=args.since,
            until=args.until,
            message_like=args.message_like,
        )
        database = _database(settings)
        if args.output:
            with open_private(Path(args.output)) as out:
                export_to(database, filters, args.format, out)
        else:
            export_to(database, filters, args.format, sys.stdout.buffer)
    except ExportError as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:
        print(f"ledgrab: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _bind(host: str, port: int) -> socket.socket:
    from ledgrab.server_limits import LISTEN_BACKLOG

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _serve(settings: Settings) -> int:

    from ledgrab.app import DATABASE_FILE, create_app
    from ledgrab.core.activity_log.signing import DeviceKey
    from ledgrab.core.tls.service import TlsConfigError
    from ledgrab.core.tls.serving import Server, banner, prepare_tls
    from ledgrab.server_limits import uvicorn_config
    from ledgrab.utils.ed25519 import KeyFileError
    from ledgrab.utils.logging_setup import configure_logging

    configure_logging(settings.log_level)
    prepare_for_serving(Path(settings.data_dir), DATABASE_FILE)
    try:
        DeviceKey.check(settings.data_dir)
    except KeyFileError as exc:
        print(
            f"ledgrab: {exc}; it signs the activity log's checkpoints: put the right file back, "
            "or move it aside and the next start makes a new key",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        tls = prepare_tls(settings)
    except TlsConfigError as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        print(f"ledgrab: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    note = " (all interfaces)" if host in ("0.0.0.0", "::") else ""
    print(f"LedGrab {__version__} serving on {tls.scheme}://{shown}:{port}{note}", flush=True)
    print(banner(tls), flush=True)
    config = uvicorn_config(
        # The bound port, not 0: the activity log and the mDNS advertisement name the real one.
        create_app(msgspec.structs.replace(settings, port=port), tls),
        settings.server,
        **tls.uvicorn_options(),
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = Server(config)  # uvicorn.Server, surviving a closing websocket at shutdown
    server.run(sockets=[sock])
    return 0 if server.started else 1


def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from ledgrab.storage.api_keys import ApiKeyError, ApiKeyStore
    from ledgrab.storage.data_migrations import SchemaTooNewError
    from ledgrab.storage.database import Database

    # Safe beside a running server: SQLite's locks serialise the two writers, and the server
    # rereads its key cache (within 10 s for revocations, at once for a new key). A key made in
    # a database no server uses would be one the server rejects: hence no database is created.
    db = Database(_database(settings))
    try:
        db.open()
    except SchemaTooNewError as exc:
        db.close()
        print(f"ledgrab: {exc}", file=sys.stderr)
        return 1
    try:
        store = ApiKeyStore(db, settings.auth.api_keys)
        if args.keys_command == "list":
            store.load_blocking()
            for info in store.list():
                print(f"{displayable(info.label)}\t{info.hint}\t{info.created_at}\t{info.source}")
        elif args.keys_command == "create":
            _info, key = store.create_blocking(args.label)
            print(key)
            print(f"created API key {args.label!r}; it is shown only this once", file=sys.stderr)
        else:
            store.revoke_blocking(args.label)
            print(f"revoked API key {args.label!r}", file=sys.stderr)
    except ApiKeyError as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


def _backup_or_restore(settings: Settings, args: argparse.Namespace) -> int:
    from ledgrab.app import DATABASE_FILE
    from ledgrab.core.backup.check import BackupRejected
    from ledgrab.core.backup.db_files import DataDirLockedError
    from ledgrab.core.backup.offline import backup_offline, restore_offline

    try:
        if args.command == "backup":
            dest, info = backup_offline(
                _database(settings), _backup_destination(args.file), force=args.force
            )
            print(f"wrote {dest} ({info.size_bytes} bytes, schema version {info.schema_version})")
            return 0
        result = restore_offline(settings, DATABASE_FILE, Path(args.file))
    except DataDirLockedError as exc:
        print(
            f"ledgrab: not restored: a LedGrab server is using {settings.data_dir} ({exc}). "
            "Stop it first (sudo systemctl stop ledgrab), or restore through the web UI "
            "(POST /api/v1/system/restore).",
            file=sys.stderr,
        )
        return 1
    except BackupRejected as exc:
        print(f"ledgrab: not restored: {exc}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return 1
    kept = f"; the previous database is kept as {result.previous_database}"
    print(
        f"restored {args.file} (schema version {result.info.schema_version})"
        + (kept if result.previous_database else "")
    )
    return 0


def _backup_destination(text: str) -> Path:
    """FILE as the user meant it: `DIR/` is a directory (made if missing), a dated file goes
    into an existing directory, anything else is a file whose directory must exist."""
    dest = Path(text)
    if text.endswith(("/", os.sep)) or dest.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return dest
    if not dest.absolute().parent.is_dir():
        raise FileNotFoundError(
            f"cannot write {dest}: the directory {dest.absolute().parent} does not exist "
            "(end FILE with / to have it created)"
        )
    return dest


# -- `ledgrab verify` (the activity log's chain; self-contained) -------------------------------


def _add_verify_parser(commands, common) -> None:
    verify = commands.add_parser(
        "verify", help="prove the activity log unaltered: its hash chain, anchors and signatures"
    )
    common(verify)
    verify.add_argument("--database", help="a database file (a backup, a copy of the card)")
    verify.add_argument("--from-export", help="a JSON, NDJSON or CSV export (or a backup file)")
    verify.add_argument(
        "--checkpoint", help="a signed checkpoint kept elsewhere: the log must reach and match it"
    )
    verify.add_argument(
        "--public-key",
        action="append",
        help="trust only this key: an activity-key.pub file or its '<origin> <base64>' line "
        "(repeatable; default: the keys recorded in the database and <data-dir>'s key)",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 with a one-line summary; 1 naming the first seq that fails and why; 2 for bad
    arguments."""
    from ledgrab.app import DATABASE_FILE
    from ledgrab.core.activity_log.signing import PUBLIC_KEY_FILE, parse_public_key
    from ledgrab.core.activity_log.verify import verify_database
    from ledgrab.core.activity_log.verify_export import ExportFormatError, verify_export

    data_dir = Path(settings.data_dir)
    try:
        pinned = [parse_public_key(_file_or_text(k)) for k in args.public_key or []]
        own = data_dir / PUBLIC_KEY_FILE
        extra = [parse_public_key(own.read_text())] if own.exists() else []
        checkpoint = Path(args.checkpoint).read_text() if args.checkpoint else None
        if args.from_export:
            result = verify_export(
                args.from_export, keys=pinned or extra or None, checkpoint=checkpoint
            )
        else:
            database = Path(args.database) if args.database else data_dir / DATABASE_FILE
            result = verify_database(
                database, keys=pinned or None, extra_keys=extra, checkpoint=checkpoint
            )
    except (OSError, ValueError, ExportFormatError) as exc:
        print(f"ledgrab: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(msgspec.json.encode(result).decode())
    else:
        print(result.summary())
        for note in result.notes:
            print(f"note: {note}")
    return 0 if result.ok else 1


def _file_or_text(value: str) -> str:
    path = Path(value)
    return path.read_text() if path.is_file() else value


# -- `ledgrab migrate`, `ledgrab record-upgrade` (the steps ledgrab-update runs) ---------------

UPGRADE_EVENTS = ("started", "completed", "rolled_back")


def _add_upgrade_parsers(commands, common) -> None:
    migrate = commands.add_parser(
        "migrate", help="bring the database to this version's schema (refused while it is served)"
    )
    common(migrate)
    record = commands.add_parser(
        "record-upgrade", help="record a step of an upgrade in the activity log (ledgrab-update)"
    )
    common(record)
    record.add_argument("event", choices=UPGRADE_EVENTS)
    record.add_argument("--from-version", required=True)
    record.add_argument("--to-version", required=True)
    record.add_argument("--reason", help="why it was rolled back")


def _migrate_or_record(settings: Settings, args: argparse.Namespace) -> int:
    from ledgrab.core.activity_log.offline_record import record_and_close
    from ledgrab.core.backup.db_files import DataDirLock, DataDirLockedError
    from ledgrab.storage.data_migrations import latest_version
    from ledgrab.storage.database import Database

    database = _database(settings)
    if args.command == "migrate":
        lock = DataDirLock(settings.data_dir)
        try:
            lock.acquire()
        except DataDirLockedError as exc:
            print(f"ledgrab: not migrated: {exc}; stop the server first", file=sys.stderr)
            return 1
        try:
            db = Database(database)
            applied = db.open()
            db.close()
        finally:
            lock.release()
        done = ", ".join(map(str, applied)) if applied else "none needed"
        print(f"{database}: schema version {latest_version()} (migrations applied: {done})")
        return 0
    # Beside a running server too: the entry is chained inside the writer's transaction.
    db = Database(database)
    db.open()
    versions = {"from_version": args.from_version, "to_version": args.to_version}
    event = args.event.replace("_", " ")
    reason = f": {args.reason}" if args.reason else ""
    record_and_close(
        db,
        f"upgrade.{args.event}",
        severity="error" if args.event == "rolled_back" else "info",
        actor="ledgrab-update",
        message=f"upgrade from {args.from_version} to {args.to_version} {event}{reason}",
        metadata={**versions, "reason": args.reason} if args.reason else versions,
    )
    return 0
