// The service worker's click handling, in Node with a fake worker scope: a click on a
// notification focuses a tab already on its page, or opens one; the page's own
// fallback when the notification has no link. (What a push shows is checked in
// Chromium, through the DevTools protocol: tests/browser/test_service_worker.py.)
import assert from "node:assert/strict";
import { test } from "node:test";

const handlers = {};
const opened = [];
const focused = [];
let windows = [];
globalThis.self = {
  location: { href: "https://art.example/web/notifications-sw.js?page=/notifications" },
  registration: { scope: "https://art.example/web/" },
  addEventListener: (type, handler) => { handlers[type] = handler; },
  clients: {
    matchAll: async (options) => {
      assert.deepEqual(options, { type: "window", includeUncontrolled: true });
      return windows;
    },
    openWindow: async (url) => { opened.push(url); return null; },
  },
};
await import("../notifications-sw.js");

function tab(url) {
  return { url, focus: async () => { focused.push(url); } };
}

async function click(data) {
  let closed = false;
  const work = [];
  handlers.notificationclick({
    notification: { data, close: () => { closed = true; } },
    waitUntil: (promise) => { work.push(promise); },
  });
  assert.ok(closed, "the notification is closed on a click");
  assert.ok(work.length, "the click's work is kept alive with waitUntil");
  await Promise.all(work);
}

const reported = [];
globalThis.fetch = async (url, init) => {
  reported.push({ url: String(url), init });
  return { ok: true, status: 204 };
};

test("a click reports the open with the push's token, and only then", async () => {
  reported.length = opened.length = 0;
  windows = [];
  await click({ id: "t", url: "https://art.example/posts/7", openToken: "abc.1.p.2.mac" });
  assert.equal(reported.length, 1);
  assert.equal(reported[0].url, "https://art.example/api/notifications/opened");
  assert.equal(reported[0].init.method, "POST");
  assert.deepEqual(JSON.parse(reported[0].init.body), { token: "abc.1.p.2.mac" });
  assert.equal(reported[0].init.credentials, "omit");
  await click({ id: "u", url: "https://art.example/posts/8" });
  assert.equal(reported.length, 1, "no token, nothing reported");
});

test("a click focuses the tab already on the notification's page", async () => {
  opened.length = focused.length = 0;
  windows = [tab("https://art.example/"), tab("https://art.example/posts/5")];
  await click({ id: "a", url: "https://art.example/posts/5" });
  assert.deepEqual(focused, ["https://art.example/posts/5"]);
  assert.deepEqual(opened, []);
});

test("with no tab on it, a click opens the page", async () => {
  opened.length = focused.length = 0;
  windows = [tab("https://art.example/")];
  await click({ id: "b", url: "https://art.example/posts/6" });
  assert.deepEqual(opened, ["https://art.example/posts/6"]);
  assert.deepEqual(focused, []);
});

test("without a link of its own, a click goes to the notifications page", async () => {
  opened.length = focused.length = 0;
  windows = [];
  await click(undefined);
  assert.deepEqual(opened, ["https://art.example/notifications"]);
});

test("the title-first variant leads with the work's title; an unknown one is the default", async () => {
  const { notificationDisplay } = await import("../notifications-sw.js");
  const n = { id: "v", notification_type: "reaction", content_type: "post", content_id: 1,
    content_title: "Sunset", content_url: null, actor_handle: "bob", emoji: "🔥", created_at: "2026-12-04T05:00:00Z" };
  const titleFirst = notificationDisplay(n, { variant: "title-first", openToken: "tok" });
  assert.equal(titleFirst.title, "Sunset");
  assert.equal(titleFirst.options.body, "bob reacted 🔥 to your artwork");
  assert.equal(titleFirst.options.data.openToken, "tok");
  const plain = notificationDisplay(n, { variant: "no-such-format" });
  assert.equal(plain.title, "bob reacted 🔥 to your artwork");
  assert.equal(plain.options.body, "Sunset");
  assert.equal(plain.options.data.openToken, null);
});

test("a push that is not a notification shows nothing; one that is, shows it", async () => {
  const shown = [];
  self.registration.showNotification = async (title, options) => { shown.push({ title, options }); };
  const deliver = (json) => {
    let work = null;
    handlers.push({ data: { json: () => (json === undefined ? JSON.parse("not json") : json) },
                    waitUntil: (promise) => { work = promise; } });
    return work;
  };
  assert.equal(deliver(undefined), null);
  assert.equal(deliver({ type: "hello" }), null);
  await deliver({ type: "notification", notification: {
    id: "c", notification_type: "reaction", content_type: "blog_post", content_id: 9,
    content_title: "Notes", content_url: "javascript:alert(1)", actor_handle: "bob",
    actor_avatar_url: "https://art.example/bob.png", emoji: "🔥", created_at: "2026-12-04T05:00:00Z",
  } });
  assert.equal(shown.length, 1);
  assert.match(shown[0].title, /^bob reacted 🔥/);
  assert.equal(shown[0].options.tag, "blog_post-9");
  assert.equal(shown[0].options.data.url, "https://art.example/notifications");
  assert.equal(shown[0].options.icon, "https://art.example/bob.png");
});
