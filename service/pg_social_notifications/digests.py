"""The email digest of one user's unread notifications (CONTRACT.md §6).

`load_groups` reads what the next digest lists (db/queries/digest_groups.sql: unread,
past the user's digest mark, of the kinds they get by email, grouped as the page's
grouped view groups them); `build_message` renders it from templates/digest.{txt,html}
as a multipart/alternative email. Every value is escaped in the HTML part (jinja2
autoescape), links are absolute to NOTIFICATIONS_PUBLIC_URL and only ever http(s), and
no user-written text reaches a header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import jinja2
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from pg_social_notifications.grouping import _group_from_row
from pg_social_notifications.queries import sql
from pg_social_notifications.schemas import NotificationGroup

TEMPLATES = Path(__file__).parent / "templates"
MAX_GROUPS = 50  # a digest is a summary; the page has the rest
NOTIFICATIONS_PATH = "/notifications"
PREFERENCES_PATH = "/notifications#preferences"
UNSUBSCRIBE_PATH = "/api/notifications/unsubscribe"
OPEN_PATH = "/api/notifications/open"  # the open route: notes the open, then redirects
CONTROL = re.compile(r"[\x00-\x20\x7f]")

_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                          autoescape=jinja2.select_autoescape(["html"]),
                          undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


@dataclass(frozen=True)
class DigestGroup:
    group: NotificationGroup
    previews: list[str]


@dataclass(frozen=True)
class Digest:
    message: EmailMessage
    count: int  # notifications listed
    covered_seq: int  # the highest seq listed: the user's new digest mark


def one_line(text: str, limit: int = 200) -> str:
    """A header- and line-safe form of user text: no CR, LF or other control characters."""
    flat = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def absolute_link(url: str | None, public_url: str) -> str | None:
    """`url` (relative to the site, or absolute) made absolute to `public_url`; None unless
    the result is an http(s) URL with a host and no whitespace or control characters."""
    if not url:
        return None
    url = url.strip()
    # urljoin silently drops tabs and newlines: a URL with any is refused, not mended
    joined = urljoin(public_url.rstrip("/") + "/", url)
    if CONTROL.search(url) or CONTROL.search(joined):
        return None
    parts = urlsplit(joined)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return joined


def site_name(public_url: str) -> str:
    return urlsplit(public_url).hostname or "the site"


async def load_groups(conn: AsyncConnection[Any], user_id: int,
                      covered_seq: int) -> list[DigestGroup]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("digest_groups"), {"user_id": user_id, "covered_seq": covered_seq,
                                                 "limit": MAX_GROUPS})
        rows = await cur.fetchall()
    return [DigestGroup(_group_from_row(row), list(row["comment_previews"])) for row in rows]


def summary(group: NotificationGroup) -> str:
    """ "alice, bob and 3 others reacted 🔥 to your artwork “Title”" (plain text)."""
    what = "your artwork" if group.content_type == "post" else "your blog post"
    names = [a.actor_handle for a in group.actors]
    others = group.total - len(names)
    if others > 0:
        who = f"{', '.join(names)} and {others} other{'s' if others > 1 else ''}"
    elif len(names) > 1:
        who = ", ".join(names[:-1]) + " and " + names[-1]
    else:
        who = "".join(names)
    if group.notification_type == "reaction":
        emojis = "".join(" " + e for e in group.emojis)
        return one_line(f"{who} reacted{emojis} to {what} “{group.content_title}”", 400)
    return one_line(f"{who} commented on {what} “{group.content_title}”", 400)


def build_message(groups: list[DigestGroup], *, to: str, sender: str, public_url: str,
                  unsubscribe_token: str, now: datetime | None = None,
                  open_token: Callable[[NotificationGroup], str] | None = None) -> Digest:
    """The digest email. With `open_token`, each group's link goes through the service's
    open route (insights), which notes the open and redirects to the same place."""
    base = public_url.rstrip("/")
    page_url = base + NOTIFICATIONS_PATH

    def link(group: NotificationGroup) -> str:
        if open_token is not None:
            return f"{base}{OPEN_PATH}?token={quote(open_token(group), safe='')}"
        return absolute_link(group.content_url, public_url) or page_url

    unsubscribe_url = f"{base}{UNSUBSCRIBE_PATH}?token={quote(unsubscribe_token, safe='')}"
    items = [{"summary": summary(g.group),
              "preview": one_line(g.previews[0], 300) if g.previews else "",
              "link": link(g.group)}
             for g in groups]
    count = sum(g.group.total for g in groups)
    site = site_name(public_url)
    subject = one_line(f"{count} new notification{'' if count == 1 else 's'} on {site}")
    context = {"count": count, "site": site, "items": items, "subject": subject,
               "page_url": page_url, "preferences_url": base + PREFERENCES_PATH,
               "unsubscribe_url": unsubscribe_url}
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = one_line(sender)
    message["To"] = one_line(to)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=site)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_env.get_template("digest.txt").render(context))
    message.add_alternative(_env.get_template("digest.html").render(context), subtype="html")
    return Digest(message, count, max(g.group.latest_seq for g in groups))
