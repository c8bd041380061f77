"""The Web Push service worker (web/notifications-sw.js) in Chromium: registered as the
page would, a push delivered through the DevTools protocol (ServiceWorker.deliverPushMessage)
shows the notification's sentence, icon and tag, and carries the link a click opens. (The
DevTools protocol cannot click a notification, and a script's click is not a user's: what
the click handler does with that link, focus or open, is web/tests/service-worker.test.mjs.)"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import BrowserContext

from devkit.servers import running_service
from tests.browser.helpers import PAGE, SHOWN, push, push_until_shown, registered

NOTIFICATION: dict[str, Any] = {
    "id": "7d5c0c36-2f7e-4d57-9a53-0d1b1c3f7a10", "user_id": 1, "seq": 4,
    "notification_type": "comment", "content_type": "post", "content_id": 5,
    "content_title": "Sunset <b>over</b> the bay", "content_url": "https://art.example/sunset",
    "actor_id": 2, "actor_handle": "bob", "actor_avatar_url": "https://art.example/bob.png",
    "emoji": None, "comment_id": None, "comment_preview": "Lovely <script>x()</script>",
    "is_read": False, "read_at": None, "created_at": "2026-12-04T05:00:00Z",
    "content_image_url": "https://art.example/sunset.png",
}


def test_a_push_shows_the_notification_as_text_with_its_link(
        context: BrowserContext, database_url: str) -> None:
    with running_service(database_url) as svc:
        page, cdp, registration = registered(context, svc.base_url)
        push(cdp, svc.base_url, registration, "not json")  # not ours: nothing shown
        push(cdp, svc.base_url, registration, json.dumps({"type": "hello"}))
        push_until_shown(page, cdp, svc.base_url, registration,
                         json.dumps({"type": "notification", "notification": NOTIFICATION}), 1)
        page.wait_for_timeout(300)  # the two pushes that show nothing were delivered first
        shown = page.evaluate(SHOWN)
        assert len(shown) == 1, shown
        [n] = shown
        assert n["title"] == "bob commented on your artwork"
        # Plain text: the markup a user typed is shown as typed, never parsed.
        assert n["body"] == "Sunset <b>over</b> the bay: “Lovely <script>x()</script>”"
        assert n["icon"] == "https://art.example/bob.png"
        assert n["image"] == "https://art.example/sunset.png"  # the artwork
        assert n["tag"] == "post-5"  # a repeat about the same artwork replaces it
        # no open token in this push: its click reports nothing
        assert n["data"] == {"id": NOTIFICATION["id"], "url": "https://art.example/sunset", "openToken": None}

        # No link of its own, or one that is not http(s): a click opens the notifications page.
        hostile = {**NOTIFICATION, "id": "other", "content_id": 6, "content_url": "javascript:alert(1)",
                   "actor_avatar_url": "javascript:alert(2)", "notification_type": "reaction",
                   "content_image_url": "javascript:alert(3)",
                   "emoji": "🔥", "comment_preview": None}
        both = push_until_shown(page, cdp, svc.base_url, registration,
                                json.dumps({"type": "notification", "notification": hostile}), 2)
        assert len(both) == 2, both
        second = next(x for x in both if x["tag"] == "post-6")
        assert second["title"] == "bob reacted 🔥 to your artwork"
        assert second["data"]["url"] == svc.base_url + PAGE
        assert second["icon"] == "" and second["image"] == ""
