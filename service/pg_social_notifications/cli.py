"""The `notifications` command: serve, migrate, cleanup, check, digest, openapi."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pg_social_notifications import migrations
from pg_social_notifications.database import resolve_database_url
from pg_social_notifications.settings import Settings


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    url = resolve_database_url(settings)
    if args.action == "apply":
        if args.with_host_tables:
            migrations.create_host_tables(url)
        applied = migrations.apply(url)
        print("applied: " + (", ".join(applied) if applied else "nothing pending"))
    elif args.action == "rollback":
        rolled = migrations.rollback(url, everything=args.all)
        print("rolled back: " + (", ".join(rolled) if rolled else "nothing applied"))
    else:
        for state in migrations.status(url):
            print(f"{'applied' if state.applied else 'pending'}  {state.id}")
    return 0


def _positive_int(raw: str) -> int:
    """argparse type: a whole number of at least 1 (a bad value is a usage error, exit 2)."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _cmd_cleanup(args: argparse.Namespace, settings: Settings) -> int:
    from pg_social_notifications.retention import run_cleanup

    url = resolve_database_url(settings)
    days = args.days if args.days is not None else settings.retention_days
    result = run_cleanup(url, retention_days=days,
                         event_retention_days=settings.event_retention_days,
                         insight_retention_days=settings.insights_retention_days,
                         batch_size=settings.cleanup_batch_size)
    if result.skipped:
        print("another instance holds the retention lock and is running retention now; "
              "nothing was done here", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again later
    print(f"deleted {result.notifications} notifications older than {days} days "
          f"and {result.events} replay events, in {result.batches} batches")
    return 0


def _cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from pg_social_notifications.consistency import find_drift

    url = resolve_database_url(settings)
    drift = find_drift(url)
    for problem in drift:
        print(problem)
    print("no drift: every counter and sequence matches the rows" if not drift
          else f"{len(drift)} problem(s) found")
    return 1 if drift else 0


def _cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    import aiosmtplib

    from pg_social_notifications.digest_worker import run_digest_round, send_digests
    from pg_social_notifications.metrics import Metrics

    if not (settings.smtp_url and settings.public_url and settings.jwt_secret):
        print("NOTIFICATIONS_SMTP_URL, NOTIFICATIONS_PUBLIC_URL and NOTIFICATIONS_JWT_SECRET "
              "must be set", file=sys.stderr)
        return 2
    url = resolve_database_url(settings)
    try:
        if args.now:
            sent: int | None = asyncio.run(send_digests(settings, url, Metrics(), now_mode=True))
        else:
            sent = asyncio.run(run_digest_round(settings, url, Metrics()))
    except (aiosmtplib.SMTPException, OSError) as exc:
        # Nothing is marked sent that the server did not accept: running it again is safe.
        print(f"the SMTP server did not take the digests: {exc}", file=sys.stderr)
        return 69  # EX_UNAVAILABLE
    if sent is None:
        print("another instance is sending digests now; nothing was done here", file=sys.stderr)
        return 75  # EX_TEMPFAIL
    print(f"sent {sent} digest(s)")
    return 0


def _cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    """Brings the insight rows up to date with the replay log, then prints the report."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    import msgspec
    import psycopg

    from pg_social_notifications.insights import follow_once, format_report, report

    url = resolve_database_url(settings)

    async def work() -> str:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await follow_once(conn, settings)
            until = datetime.now(UTC)
            result = await report(conn, settings, until - timedelta(days=args.days), until)
        return msgspec.json.encode(result).decode() if args.json else format_report(result)

    print(asyncio.run(work()))
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from pg_social_notifications.server import serve

    serve(settings, workers=args.workers, demo=args.demo)
    return 0


def _cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    """The API's OpenAPI document, as the service serves it at /schema/openapi.json: for
    client generators (web/types/openapi.d.ts is made from it). No database is touched."""
    import json

    import msgspec

    from pg_social_notifications.app import create_app

    app = create_app(msgspec.structs.replace(settings, jwt_secret=settings.jwt_secret or "unused"),
                     "postgresql://unused")
    print(json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifications", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP/WebSocket service")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--demo", action="store_true",
                       help="create demo host tables, users and pages; print tokens")
    serve.set_defaults(func=_cmd_serve)

    migrate = sub.add_parser("migrate", help="manage database objects (yoyo)")
    migrate.add_argument("action", choices=["apply", "rollback", "status"])
    migrate.add_argument("--all", action="store_true", help="rollback: every migration")
    migrate.add_argument("--with-host-tables", action="store_true",
                         help="apply: first create the demo host tables (never in production)")
    migrate.set_defaults(func=_cmd_migrate)

    cleanup = sub.add_parser("cleanup", help="run the retention job once")
    cleanup.add_argument("--days", type=_positive_int, default=None,
                         help="delete notifications older than this (default: settings)")
    cleanup.set_defaults(func=_cmd_cleanup)

    check = sub.add_parser("check", help="compare every counter and sequence with the rows")
    check.set_defaults(func=_cmd_check)

    digest = sub.add_parser("digest", help="send the email digests that are due, once")
    digest.add_argument("--now", action="store_true",
                        help="ignore the schedule's hour, day and quiet hours: every verified "
                             "user with something unread not in an earlier digest")
    digest.set_defaults(func=_cmd_digest)

    stats = sub.add_parser("stats", help="what notifications did: delivered, opened, open rate, "
                                         "time to open and to read, per kind and channel; A/B")
    stats.add_argument("--days", type=_positive_int, default=7, help="the period, in days (default 7)")
    stats.add_argument("--json", action="store_true", help="the report as JSON")
    stats.set_defaults(func=_cmd_stats)

    openapi = sub.add_parser("openapi", help="print the API's OpenAPI document (JSON)")
    openapi.set_defaults(func=_cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # yoyo logs every statement it runs at INFO; our own lines say what was applied.
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
