"""Push on this device from the page, end to end in Chromium: the preferences' button asks
for the permission from the click, subscribes with the service's VAPID key and registers
the subscription; with the tab closed, a host's plain-SQL reaction reaches the fake push
service as one encrypted push, which the service worker shows once delivered to it; the
button turns it off again.

Chromium cannot reach a real push service here, so `PushManager.subscribe` is the one
browser call stood in for: it hands back the fake browser's subscription (its endpoint on
the fake push service and its own keys), after checking what the page asked for."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import BrowserContext, Page

from devkit.hostdata import react
from devkit.servers import ServiceProcess, running_service
from devkit.webpush import FakeBrowser, FakePushService, push_env, vapid_private_pem
from tests.browser.helpers import open_as, post_id, push_until_shown, registered, user_id

SHADOW = "document.querySelector('notifications-page').shadowRoot"
STAND_IN = """(subscription) => {
  // The browser keeps a subscription across pages: so does the stand-in, in localStorage.
  const stored = () => localStorage.getItem("stand-in-subscribed") === "1";
  const handle = () => ({
    endpoint: subscription.endpoint,
    toJSON: () => subscription,
    unsubscribe: async () => { localStorage.removeItem("stand-in-subscribed"); return true; },
  });
  PushManager.prototype.getSubscription = async function () { return stored() ? handle() : null; };
  PushManager.prototype.subscribe = async function (options) {
    const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)))
      .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    window.subscribedWith = { userVisibleOnly: options.userVisibleOnly, key };
    localStorage.setItem("stand-in-subscribed", "1");
    return handle();
  };
}"""


@pytest.fixture
def push_service() -> Iterator[FakePushService]:
    fake = FakePushService()
    yield fake
    fake.close()


@pytest.fixture
def push_demo(database_url: str) -> Iterator[ServiceProcess]:
    with running_service(database_url, demo=True, env=push_env(vapid_private_pem(), delay=0.5)) as service:
        yield service


def status(page: Page) -> str:
    text: str = page.evaluate(f"() => {SHADOW}.querySelector('.prefs-status').textContent")
    return text


def open_preferences(page: Page) -> Any:
    page.locator("notifications-page summary").click()
    button = page.locator("notifications-page button.push-device")
    button.wait_for(state="visible")
    return button


def subscriptions(conn: psycopg.Connection[Any], user: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT endpoint FROM notification_push_subscriptions"
                                       " WHERE user_id = %s", (user,)).fetchall()]


def wait(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_page_turns_push_on_a_closed_tab_gets_the_push_and_off_again(
        context: BrowserContext, push_demo: ServiceProcess, push_service: FakePushService,
        conn: psycopg.Connection[Any]) -> None:
    alice, bob = user_id(conn, "alice"), user_id(conn, "bob")
    fake = FakeBrowser(push_service.endpoint())
    context.grant_permissions(["notifications"], origin=push_demo.base_url)
    context.add_init_script(f"({STAND_IN})({json.dumps(fake.to_json())})")

    page = open_as(context, push_demo, "/demo/notifications", "alice")
    button = open_preferences(page)
    assert button.text_content() == "Turn on push on this device"
    assert button.get_attribute("aria-pressed") == "false"
    button.click()
    page.wait_for_function(f"() => {SHADOW}.querySelector('.prefs-status').textContent"
                           " === 'Push is on for this device.'")
    assert button.text_content() == "Turn off push on this device"
    key = page.evaluate("() => fetch('/api/notifications/push/public-key').then((r) => r.json())")
    assert page.evaluate("() => window.subscribedWith") == {"userVisibleOnly": True, "key": key["public_key"]}
    assert subscriptions(conn, alice) == [fake.endpoint]
    assert page.errors == []  # type: ignore[attr-defined]

    # No tab open: the next reaction goes out as a push, once.
    page.close()
    wait(lambda: conn.execute("SELECT NOT EXISTS (SELECT 1 FROM notification_presence"
                              " WHERE %s = ANY (user_ids))", (alice,)).fetchone() == (True,))
    react(conn, post_id(conn, "p-alice-1"), bob, "🌊")
    wait(lambda: push_service.to(fake.endpoint))
    time.sleep(1.5)
    [received] = push_service.to(fake.endpoint)
    message = fake.open(received, key["public_key"])
    assert message["notification"]["user_id"] == alice
    assert message["notification"]["emoji"] == "🌊"

    # What the push service would deliver, delivered to the page's service worker: shown.
    viewer, cdp, registration = registered(context, push_demo.base_url, register=None,
                                           at="/web/demo/notifications.html")
    shown = push_until_shown(viewer, cdp, push_demo.base_url, registration, json.dumps(message), 1)
    assert shown[0]["title"].startswith("bob reacted 🌊")
    viewer.close()

    # And off again, from the page: the service forgets the subscription.
    page = open_as(context, push_demo, "/demo/notifications", "alice")
    button = open_preferences(page)
    page.wait_for_function(f"() => {SHADOW}.querySelector('button.push-device').textContent"
                           " === 'Turn off push on this device'")
    button.click()
    page.wait_for_function(f"() => {SHADOW}.querySelector('.prefs-status').textContent"
                           " === 'Push is off on this device.'")
    assert subscriptions(conn, alice) == []
    assert status(page) == "Push is off on this device."
