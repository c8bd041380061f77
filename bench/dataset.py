"""The dataset: 10,000 users and 4.5 million notifications, the plan's
90-day volume, generated with set-based SQL in a few minutes.

How it stays exact: the change-recording triggers on `notifications` are
disabled while chunks of rows are inserted with `INSERT ... SELECT`. Each
chunk's statement numbers its rows per user after the user's current
`last_seq` and, in the same statement, moves the counters. The
replay log (`notification_events`) is then rebuilt for the retention window.
Finally `notifications check` (service.consistency) must find no drift.

The history it models: notifications arrive evenly over 90 days, skewed
across users (a few popular artists get most of them); 90 % of those older
than the 7-day replay window were read before the window began, and
everything inside the window is unread. So the replay log is exactly the
'created' events of the last 7 days, with the unread count each produced.

    .venv/bin/python -m bench.dataset --size full
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.common import (
    BenchDatabase,
    MachineLoad,
    Progress,
    Report,
    given_or_new_database,
    parse_args,
    phase,
)
from devkit.hostdata import seed_site
from pg_social_notifications.consistency import find_drift


@dataclass(frozen=True)
class DatasetSize:
    users: int
    notifications: int
    chunk: int


SIZES = {
    "smoke": DatasetSize(users=500, notifications=20_000, chunk=5_000),
    "full": DatasetSize(users=10_000, notifications=4_500_000, chunk=250_000),
}
POSTS_PER_USER = 5
DAYS = 90
REPLAY_DAYS = 7
SKEW = 2.5  # recipient = users * random()^SKEW: user 1 is the most popular

# One chunk of notifications number lo..hi (in time order), and the counter
# moves they imply, in one statement. User u's posts are (u - 1) * per_user + 1 ..
# u * per_user (seed_site's consecutive posts), blog post u is theirs.
INSERT_CHUNK = """
WITH gen AS (
    SELECT i,
           1 + floor(%(users)s::int * power(random(), %(skew)s))::int AS user_id,
           random() AS r_kind, random() AS r_content, random() AS r_actor, random() AS r_read,
           now() - make_interval(days => %(days)s::int)
               + make_interval(secs => i * (%(days)s::int * 86400.0 / %(total)s::bigint)) AS created_at
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) i
), numbered AS (
    SELECT g.*,
           coalesce(c.last_seq, 0)
               + row_number() OVER (PARTITION BY g.user_id ORDER BY g.i) AS seq,
           CASE WHEN g.r_actor < 0.05 THEN NULL
                ELSE 1 + (g.user_id + floor(g.r_actor * (%(users)s::int - 1))::int) %% %(users)s::int
           END AS actor,
           g.r_kind < 0.7 AS is_reaction,
           g.r_content < 0.85 AS on_post,
           g.created_at < now() - make_interval(days => %(replay_days)s::int)
               AND g.r_read < 0.9 AS is_read
      FROM gen g LEFT JOIN notification_counters c USING (user_id)
), inserted AS (
    INSERT INTO notifications (
        user_id, seq, notification_type, post_id, blog_post_id, actor_id, actor_ip,
        actor_handle, actor_avatar_url, reaction_id, emoji, comment_id, comment_preview,
        content_title, content_url, is_read, read_at, created_at)
    SELECT user_id, seq,
           CASE WHEN is_reaction THEN 'reaction' ELSE 'comment' END,
           CASE WHEN on_post
                THEN (user_id - 1) * %(per_user)s::int + 1 + (i %% %(per_user)s::int)::int END,
           CASE WHEN NOT on_post THEN user_id END,
           actor,
           CASE WHEN actor IS NULL THEN '198.51.100.' || (i %% 250) END,
           CASE WHEN actor IS NULL THEN 'Anonymous' ELSE 'user' || actor END,
           CASE WHEN actor IS NOT NULL
                THEN 'https://avatars.example/' || actor || '.png' END,
           CASE WHEN is_reaction THEN i::int END,
           CASE WHEN is_reaction THEN (ARRAY['🔥', '❤️', '👏', '😂', '✨'])[1 + i %% 5] END,
           CASE WHEN NOT is_reaction THEN gen_random_uuid() END,
           CASE WHEN NOT is_reaction
                THEN 'Love the colours in this one, how long did it take you?' END,
           CASE WHEN on_post THEN 'Artwork ' || ((user_id - 1) * %(per_user)s::int + 1
                                                  + (i %% %(per_user)s::int)::int)
                ELSE 'Blog post ' || user_id END,
           CASE WHEN on_post THEN 'https://art.example/' || ((user_id - 1) * %(per_user)s::int + 1
                                                              + (i %% %(per_user)s::int)::int) || '.png'
                ELSE '/blog/b' || user_id END,
           is_read,
           -- every read happened before the replay window began
           CASE WHEN is_read THEN least(created_at + interval '3 hours',
                                        now() - make_interval(days => %(replay_days)s::int)) END,
           created_at
      FROM numbered
     ORDER BY i
    RETURNING user_id, seq, is_read
)
INSERT INTO notification_counters AS c (user_id, unread_count, last_seq)
SELECT user_id, count(*) FILTER (WHERE NOT is_read), max(seq) FROM inserted GROUP BY user_id
ON CONFLICT (user_id) DO UPDATE
   SET unread_count = c.unread_count + excluded.unread_count,
       last_seq = excluded.last_seq
"""

# The replay window: one 'created' event per notification of the last days,
# with the unread count right after it (all reads predate the window).
REBUILD_EVENTS = """
INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count, created_at)
SELECT n.user_id, n.seq, 'created', ARRAY[n.id],
       c.unread_count - (count(*) OVER w - row_number() OVER w),
       n.created_at
  FROM notifications n JOIN notification_counters c USING (user_id)
 WHERE n.created_at >= now() - make_interval(days => %(replay_days)s::int)
WINDOW w AS (PARTITION BY n.user_id ORDER BY n.seq
             ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
"""

STATS = """
SELECT (SELECT count(*) FROM notifications),
       (SELECT count(*) FROM notifications WHERE NOT is_read),
       (SELECT count(*) FROM notification_events),
       (SELECT count(*) FROM notification_counters),
       pg_total_relation_size('notifications'),
       pg_relation_size('notifications'),
       pg_total_relation_size('notification_events'),
       pg_database_size(current_database())
"""
PER_USER = """
SELECT min(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY n), max(n)
  FROM (SELECT last_seq AS n FROM notification_counters) t
"""


@dataclass(frozen=True)
class DatasetInfo:
    users: int
    notifications: int
    unread: int
    events: int
    counters: int
    notifications_bytes: int
    notifications_heap_bytes: int
    events_bytes: int
    database_bytes: int
    per_user_min: int
    per_user_median: int
    per_user_p99: int
    per_user_max: int
    seconds_seed: float
    seconds_insert: float
    seconds_events: float
    seconds_vacuum: float
    seconds_check: float
    drift: tuple[str, ...]


def build_dataset(url: str, size: DatasetSize) -> DatasetInfo:
    """Fill an empty, migrated database; verify counters and the replay log."""
    with psycopg.connect(url, autocommit=True) as conn:
        phase(f"seeding {size.users:,} users, {size.users * POSTS_PER_USER:,} posts, "
              f"{size.users:,} blog posts")
        started = time.monotonic()
        seed_site(conn, size.users, posts_per_user=POSTS_PER_USER, consecutive_posts=True,
                  sqids=True, blog_posts=True)
        conn.execute("ANALYZE users, posts, blog_posts")
        seconds_seed = time.monotonic() - started

        phase(f"inserting {size.notifications:,} notifications in chunks of {size.chunk:,} "
              "(row triggers off, counters moved by the same statements)")
        conn.execute("SELECT setseed(0.42)")  # the same dataset on every run
        conn.execute("ALTER TABLE notifications DISABLE TRIGGER USER")
        progress = Progress("notifications", total=size.notifications, unit="rows")
        try:
            for lo in range(1, size.notifications + 1, size.chunk):
                hi = min(lo + size.chunk - 1, size.notifications)
                conn.execute(INSERT_CHUNK, {
                    "lo": lo, "hi": hi, "total": size.notifications, "users": size.users,
                    "skew": SKEW, "days": DAYS, "replay_days": REPLAY_DAYS,
                    "per_user": POSTS_PER_USER})
                progress.update(hi)
        finally:
            conn.execute("ALTER TABLE notifications ENABLE TRIGGER USER")
        seconds_insert = progress.done()

        phase(f"rebuilding the replay log for the last {REPLAY_DAYS} days")
        started = time.monotonic()
        conn.execute(REBUILD_EVENTS, {"replay_days": REPLAY_DAYS})
        # New rows take their list order from notification_order: start it past the
        # generated rows, whose seq here equals their stream position.
        conn.execute("SELECT setval('notification_order', (SELECT max(seq) FROM notifications) + 1)")
        seconds_events = time.monotonic() - started

        phase("VACUUM ANALYZE (visibility map and planner statistics, as autovacuum would)")
        started = time.monotonic()
        conn.execute("VACUUM (ANALYZE) notifications, notification_events, notification_counters")
        conn.execute("CHECKPOINT")
        seconds_vacuum = time.monotonic() - started

        row = conn.execute(STATS).fetchone()
        per_user = conn.execute(PER_USER).fetchone()
    assert row is not None and per_user is not None

    phase("verifying: every counter equals its rows, every replay log is contiguous")
    started = time.monotonic()
    drift = find_drift(url)
    seconds_check = time.monotonic() - started
    return DatasetInfo(
        users=size.users, notifications=int(row[0]), unread=int(row[1]), events=int(row[2]),
        counters=int(row[3]), notifications_bytes=int(row[4]),
        notifications_heap_bytes=int(row[5]), events_bytes=int(row[6]),
        database_bytes=int(row[7]), per_user_min=int(per_user[0]),
        per_user_median=int(per_user[1]), per_user_p99=int(per_user[2]),
        per_user_max=int(per_user[3]), seconds_seed=seconds_seed,
        seconds_insert=seconds_insert, seconds_events=seconds_events,
        seconds_vacuum=seconds_vacuum, seconds_check=seconds_check, drift=tuple(drift))


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MiB"


def run(size_name: str, out_dir: Path, *, database_url: str | None = None,
        db: BenchDatabase | None = None) -> dict[str, Any]:
    size = SIZES[size_name]
    report = Report("dataset", "Dataset: 10,000 users and 4.5 million notifications",
                    size_name)
    with given_or_new_database("dataset", db, database_url) as db:
        report.meta["postgres"] = db.server_settings()
        load = MachineLoad(db)
        info = build_dataset(db.url, size)
        report.meta["machine_load"] = load.finish()
    total = (info.seconds_seed + info.seconds_insert + info.seconds_events
             + info.seconds_vacuum + info.seconds_check)
    report.data["size"] = vars(size)  # what was asked for; "dataset" is what was built
    report.data["dataset"] = info.__dict__
    report.table("What was generated", ["what", "value"], [
        ["users", info.users],
        ["notifications", info.notifications],
        ["unread", info.unread],
        ["replay events (last 7 days)", info.events],
        ["notifications per user: min / median / p99 / max",
         f"{info.per_user_min:,} / {info.per_user_median:,} / {info.per_user_p99:,} / "
         f"{info.per_user_max:,}"],
        ["notifications table + indexes", _mib(info.notifications_bytes)],
        ["notifications heap only", _mib(info.notifications_heap_bytes)],
        ["notification_events + indexes", _mib(info.events_bytes)],
        ["whole database", _mib(info.database_bytes)],
    ])
    report.table("How long it took", ["phase", "seconds", "rows/s"], [
        ["seed users and posts", info.seconds_seed, "–"],
        ["insert notifications + counters", info.seconds_insert,
         info.notifications / info.seconds_insert if info.seconds_insert else 0.0],
        ["rebuild replay log", info.seconds_events,
         info.events / info.seconds_events if info.seconds_events else 0.0],
        ["VACUUM ANALYZE + CHECKPOINT", info.seconds_vacuum, "–"],
        ["verify (notifications check)", info.seconds_check, "–"],
        ["total", total, info.notifications / total if total else 0.0],
    ])
    report.target("counters and replay log exact after bulk generation",
                  "no drift", "no drift" if not info.drift else f"{len(info.drift)} problems",
                  not info.drift)
    report.note("Rows are generated by INSERT ... SELECT over generate_series with the "
                "notifications row triggers disabled (ALTER TABLE ... DISABLE TRIGGER USER: "
                "foreign keys stay checked); the same statement numbers each user's rows after "
                "their last_seq and upserts notification_counters, so the counters are exact "
                "by construction, and `notifications check` proves it afterwards.")
    report.note("The host's own reactions and comments rows are not generated: the "
                "notifications carry synthetic reaction and comment ids. The API does not read "
                "host tables, so this changes nothing it measures.")
    report.write(out_dir)
    return {"report": report, "info": info}


def main() -> None:
    args = parse_args(__doc__ or "")
    run(args.size, args.out, database_url=args.database_url)


if __name__ == "__main__":
    main()
