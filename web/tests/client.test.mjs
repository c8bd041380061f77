// Unit tests of notifications-client.js: backoff, liveness, resume, tabs, REST.
// Run with `node --test web/tests/` (pytest runs it: tests/web/test_js_unit.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay, DEFAULTS, NotificationsApiError, NotificationsClient } from "../notifications-client.js";
import { FakeClock, FakeTarget, fakeBroadcastChannelClass, fakeWebSocketClass, flush } from "./fakes.mjs";

function makeClient(overrides = {}) {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const win = new FakeTarget();
  const doc = new FakeTarget();
  let tokens = 0;
  const events = [];
  const client = new NotificationsClient({
    baseUrl: "http://svc.test",
    getToken: () => `token-${++tokens}`,
    WebSocket: FakeWebSocket,
    timers: clock,
    random: () => 0.999999,
    now: () => clock.now,
    window: win,
    document: doc,
    BroadcastChannel: null,
    fetch: null, // REST calls fail at once; tests of REST pass their own
    ...overrides,
  });
  client.subscribe((event) => events.push(event));
  return { client, clock, sockets, win, doc, events, tokenCount: () => tokens };
}

/** Open the newest socket and complete the auth handshake with `hello`. */
async function handshake(ctx, { position = 0, unread = 0, userId = 7 } = {}) {
  await flush();
  const socket = ctx.sockets.at(-1);
  socket.open();
  socket.receive({ type: "hello", user_id: userId, unread_count: unread, position });
  return socket;
}

const change = (type, position, unread, extra = {}) => ({ type, position, unread_count: unread, ...extra });
const changes = (events) => events.filter((e) => e.position !== undefined && e.type !== "reset");

test("the backoff window never outgrows the time since the connection was lost", () => {
  // Ten attempts refused at once (no process on the port yet), 0.5 s after the loss:
  // the window is the initial delay, not 1.4^10 s.
  assert.equal(backoffDelay(10, DEFAULTS, () => 0.999999, 500), 999);
  assert.equal(backoffDelay(10, DEFAULTS, () => 0.999999, 4000), 3999);
  assert.equal(backoffDelay(2, DEFAULTS, () => 0.999999, 60_000), 1959);
});

test("backoff is full jitter under a ceiling that grows by the factor and is capped", () => {
  assert.equal(backoffDelay(0, DEFAULTS, () => 0), 0);
  assert.equal(backoffDelay(0, DEFAULTS, () => 0.5), 500);
  const ceilings = [0, 1, 2, 3].map((n) => backoffDelay(n, DEFAULTS, () => 0.999999));
  assert.deepEqual(ceilings, [999, 1399, 1959, 2743]);
  assert.equal(backoffDelay(100, DEFAULTS, () => 0.999999), 29999);
  assert.ok(DEFAULTS.factor >= 1.3 && DEFAULTS.factor <= 1.5);
});

test("the token is sent as the first message and never appears in the URL", async () => {
  const ctx = makeClient();
  ctx.client.start();
  await flush();
  const socket = ctx.sockets[0];
  assert.equal(socket.url, "ws://svc.test/api/notifications/ws");
  socket.open();
  assert.deepEqual(socket.sentJson(), [{ type: "auth", token: "token-1" }]);
  ctx.client.stop();
});

test("reconnects with growing delays and never gives up", async () => {
  const ctx = makeClient();
  ctx.client.start();
  const delays = [];
  for (let i = 0; i < 40; i++) {
    await flush();
    ctx.sockets.at(-1).serverClose(1006);
    delays.push(ctx.clock.delays()[0]);
    ctx.clock.advance(delays.at(-1));
  }
  await flush();
  assert.equal(ctx.sockets.length, 41);
  // The second window would be 1.4 s, but only 1 s has passed since the loss.
  assert.deepEqual(delays.slice(0, 4), [999, 999, 1959, 2743]);
  assert.equal(delays.at(-1), 29999);
  assert.ok(delays.every((d, i) => i === 0 || d >= delays[i - 1]));
  ctx.client.stop();
});

test("every reconnect asks getToken() again", async () => {
  const ctx = makeClient();
  ctx.client.start();
  await handshake(ctx);
  ctx.sockets[0].serverClose(4401);
  ctx.clock.advance(DEFAULTS.maxDelay);
  await flush();
  ctx.sockets[1].open();
  assert.equal(ctx.sockets[1].sentJson()[0].token, "token-2");
  ctx.client.stop();
});

test("after a 4401 close the next connect asks for a refreshed token", async () => {
  const asked = [];
  const ctx = makeClient({
    getToken: (opts) => {
      asked.push(Boolean(opts && opts.refresh));
      return "t";
    },
  });
  ctx.client.start();
  await handshake(ctx);
  ctx.sockets[0].serverClose(1006);
  ctx.clock.advance(DEFAULTS.maxDelay);
  await handshake(ctx);
  ctx.sockets[1].serverClose(4401);
  ctx.clock.advance(DEFAULTS.maxDelay);
  await flush();
  assert.deepEqual(asked, [false, false, true]);
  ctx.client.stop();
});

test("the attempt counter resets only after five seconds of uptime", async () => {
  const ctx = makeClient();
  ctx.client.start();
  for (let i = 0; i < 3; i++) {
    await flush();
    ctx.sockets.at(-1).serverClose();
    ctx.clock.advance(ctx.clock.delays()[0]);
  }
  // Up for 4.9 s, then dropped: still counts as a failure.
  await handshake(ctx);
  ctx.clock.advance(4900);
  ctx.sockets.at(-1).serverClose();
  assert.equal(ctx.clock.delays()[0], backoffDelay(3, DEFAULTS, () => 0.999999));
  ctx.clock.advance(ctx.clock.delays()[0]);
  // Up for 5 s: healthy, so the next drop starts over from the first delay.
  await handshake(ctx);
  ctx.clock.advance(5000);
  ctx.sockets.at(-1).serverClose();
  assert.equal(ctx.clock.delays()[0], 999);
  ctx.client.stop();
});

test("a socket that does not say hello within the connect timeout is dropped and retried", async () => {
  const ctx = makeClient();
  ctx.client.start();
  await flush();
  ctx.sockets[0].open(); // opens, but the server never answers the auth
  ctx.clock.advance(DEFAULTS.connectTimeout - 1);
  assert.equal(ctx.sockets[0].closed, null);
  ctx.clock.advance(1);
  assert.notEqual(ctx.sockets[0].closed, null);
  assert.equal(ctx.client.status, "waiting");
  ctx.clock.advance(ctx.clock.delays()[0]);
  await flush();
  assert.equal(ctx.sockets.length, 2);
  ctx.client.stop();
});

test("resume sends since = last applied position and applies each change exactly once", async () => {
  const ctx = makeClient();
  ctx.client.start();
  const first = await handshake(ctx, { position: 10, unread: 2 });
  first.receive(change("notification", 11, 3, { notification: { id: "a" } }));
  first.receive(change("read", 12, 2, { ids: ["x"] }));
  first.receive(change("read", 12, 2, { ids: ["x"] })); // duplicate
  first.serverClose(1001);
  ctx.clock.advance(DEFAULTS.maxDelay);
  await flush();
  const second = ctx.sockets[1];
  second.open();
  assert.deepEqual(second.sentJson()[0], { type: "auth", token: "token-2", since: 12 });
  second.receive({ type: "hello", user_id: 7, unread_count: 3, position: 13 });
  second.receive(change("read", 12, 2, { ids: ["x"] })); // a replay overlapping what was applied
  second.receive(change("notification", 13, 3, { notification: { id: "b" } }));
  second.receive(change("notification", 13, 3, { notification: { id: "b" } }));
  assert.deepEqual(changes(ctx.events).map((e) => e.position), [11, 12, 13]);
  assert.equal(ctx.client.position, 13);
  assert.equal(ctx.client.unreadCount, 3);
  ctx.client.stop();
});

test("joining without since announces a reset; resync moves the position and asks for a reload", async () => {
  const ctx = makeClient();
  ctx.client.start();
  const socket = await handshake(ctx, { position: 5, unread: 1 });
  assert.deepEqual(ctx.events.find((e) => e.type === "reset"), { type: "reset", position: 5, unread_count: 1 });
  socket.receive({ type: "resync", position: 3, unread_count: 0 });
  assert.equal(ctx.client.position, 3);
  assert.equal(ctx.client.unreadCount, 0);
  socket.receive(change("notification", 4, 1, { notification: { id: "n" } }));
  assert.deepEqual(changes(ctx.events).map((e) => [e.type, e.position]), [["resync", 3], ["notification", 4]]);
  ctx.client.stop();
});

test("a token for another user starts that user's stream afresh", async () => {
  const ctx = makeClient();
  ctx.client.start();
  const first = await handshake(ctx, { position: 10, unread: 4, userId: 7 });
  first.receive(change("notification", 11, 5, { notification: { id: "a" } }));
  first.serverClose(4401);
  ctx.clock.advance(DEFAULTS.maxDelay);
  await handshake(ctx, { position: 3, unread: 1, userId: 8 });
  assert.equal(ctx.client.userId, 8);
  assert.equal(ctx.client.position, 3);
  assert.equal(ctx.client.unreadCount, 1);
  assert.deepEqual(ctx.events.filter((e) => e.type === "reset").at(-1), { type: "reset", position: 3, unread_count: 1 });
  ctx.client.stop();
});

test("a seeded position is used as since on the first connection", async () => {
  const ctx = makeClient();
  ctx.client.seed(42);
  ctx.client.start();
  await flush();
  ctx.sockets[0].open();
  assert.equal(ctx.sockets[0].sentJson()[0].since, 42);
  ctx.client.stop();
});

test("online and visibilitychange reconnect at once instead of waiting out the backoff", async () => {
  const ctx = makeClient();
  ctx.client.start();
  await flush();
  ctx.sockets[0].serverClose();
  assert.equal(ctx.sockets.length, 1);
  ctx.win.fire("online");
  await flush();
  assert.equal(ctx.sockets.length, 2);
  ctx.sockets[1].serverClose();
  ctx.doc.visibilityState = "hidden";
  ctx.doc.fire("visibilitychange");
  await flush();
  assert.equal(ctx.sockets.length, 2, "hiding the tab does not reconnect");
  ctx.doc.visibilityState = "visible";
  ctx.doc.fire("visibilitychange");
  await flush();
  assert.equal(ctx.sockets.length, 3);
  assert.equal(ctx.clock.delays().filter((d) => d > DEFAULTS.connectTimeout).length, 0, "backoff timer cleared");
  ctx.client.stop();
});

test("pings every 25 s and drops a socket that stays silent after a ping", async () => {
  const ctx = makeClient();
  ctx.client.start();
  const socket = await handshake(ctx);
  ctx.clock.advance(DEFAULTS.pingInterval);
  assert.deepEqual(socket.sentJson().at(-1), { type: "ping" });
  socket.receive({ type: "pong" });
  ctx.clock.advance(DEFAULTS.pongTimeout);
  assert.equal(socket.closed, null, "answered: still alive");
  ctx.clock.advance(DEFAULTS.pingInterval - DEFAULTS.pongTimeout);
  assert.equal(socket.sentJson().filter((m) => m.type === "ping").length, 2);
  ctx.clock.advance(DEFAULTS.pongTimeout);
  assert.notEqual(socket.closed, null, "silent after a ping: dropped");
  assert.equal(ctx.client.status, "waiting");
  ctx.client.stop();
});

test("stop closes the socket and cancels every timer", async () => {
  const ctx = makeClient();
  ctx.client.start();
  const socket = await handshake(ctx);
  ctx.client.stop();
  assert.equal(socket.closed, 1000);
  assert.deepEqual(ctx.clock.delays(), []);
  ctx.win.fire("online");
  await flush();
  assert.equal(ctx.sockets.length, 1);
});

test("a REST count at a newer position wins over an older socket message, which still applies", async () => {
  const ctx = makeClient();
  const counts = [];
  ctx.client.onUnreadCount((n) => counts.push(n));
  ctx.client.start();
  const socket = await handshake(ctx, { position: 1, unread: 1 });
  ctx.client.noteCount(3, 0); // e.g. the answer of mark-all-read
  socket.receive(change("notification", 2, 2, { notification: { id: "n2" } }));
  assert.equal(ctx.client.unreadCount, 0);
  assert.equal(ctx.client.position, 2);
  socket.receive(change("read", 3, 0, { ids: ["n1", "n2"] }));
  assert.equal(ctx.client.position, 3);
  assert.deepEqual(counts, [1, 0]);
  ctx.client.stop();
});

test("tabs relay changes so a tab without a socket keeps up, never applying one twice or out of order", async () => {
  const { FakeBroadcastChannel } = fakeBroadcastChannelClass();
  const a = makeClient({ BroadcastChannel: FakeBroadcastChannel });
  const b = makeClient({ BroadcastChannel: FakeBroadcastChannel });
  a.client.start();
  b.client.start();
  const socketA = await handshake(a, { position: 4 });
  const socketB = await handshake(b, { position: 4 });
  socketA.receive(change("notification", 5, 1, { notification: { id: "n5" } }));
  assert.equal(b.client.position, 5, "relayed to the other tab");
  socketB.receive(change("notification", 5, 1, { notification: { id: "n5" } }));
  assert.deepEqual(changes(b.events).map((e) => e.position), [5], "its own copy is a duplicate");
  // A relay that skips a position is ignored: B's socket will deliver 6 and 7 in order.
  socketA.receive(change("read", 7, 0, { ids: ["n5"] }));
  assert.equal(b.client.position, 5);
  socketB.receive(change("notification", 6, 2, { notification: { id: "n6" } }));
  socketB.receive(change("read", 7, 0, { ids: ["n5", "n6"] }));
  assert.deepEqual(changes(b.events).map((e) => e.position), [5, 6, 7]);
  a.client.stop();
  b.client.stop();
});

function fakeFetch(responses) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const [status, body] = responses.shift() ?? [200, { unread_count: 0, position: 0 }];
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: "status",
      json: async () => body,
    };
  };
  return { fetch, calls };
}

test("REST helpers call every endpoint with a bearer token and the documented bodies", async () => {
  const { fetch, calls } = fakeFetch([
    [200, { items: [], next_cursor: null, unread_count: 0, position: 9 }],
    [200, { groups: [], aggregated: true, unread_count: 0, position: 9 }],
    [200, { unread_count: 0, position: 9 }],
    [200, { marked: 1, unread_count: 0, position: 10 }],
    [200, { marked: 1, unread_count: 0, position: 11 }],
    [204, null],
    [200, { notify_on_post_reactions: true }],
    [200, { notify_on_post_reactions: false }],
  ]);
  const { client } = makeClient({ fetch });
  await client.listNotifications({ limit: 20, cursor: "abc", unreadOnly: true });
  await client.listGroups({ limit: 10, windowHours: 48 });
  await client.fetchUnreadCount();
  await client.markRead(["a", "a", "b"]);
  await client.markAllRead(57);
  await client.deleteNotification("d/1");
  await client.getPreferences();
  await client.updatePreferences({ notify_on_post_reactions: false });
  const base = "http://svc.test/api/notifications";
  assert.deepEqual(
    calls.map((c) => [c.method, c.url, c.body]),
    [
      ["GET", `${base}/?limit=20&cursor=abc&unread_only=true`, undefined],
      ["GET", `${base}/groups?limit=10&window_hours=48`, undefined],
      ["GET", `${base}/unread-count`, undefined],
      ["POST", `${base}/mark-read`, ["a", "b"]],
      ["POST", `${base}/mark-all-read`, { up_to: 57 }],
      ["DELETE", `${base}/d%2F1`, undefined],
      ["GET", `${base}/preferences`, undefined],
      ["PUT", `${base}/preferences`, { notify_on_post_reactions: false }],
    ],
  );
  assert.ok(calls.every((c) => c.headers.Authorization.startsWith("Bearer token-")));
  assert.equal(client.unreadCount, 0);
});

test("mark-read is split into batches of 500 ids", async () => {
  const { fetch, calls } = fakeFetch([
    [200, { marked: 500, unread_count: 701, position: 2 }],
    [200, { marked: 500, unread_count: 201, position: 3 }],
    [200, { marked: 201, unread_count: 0, position: 4 }],
  ]);
  const { client } = makeClient({ fetch });
  const ids = Array.from({ length: 1201 }, (_, i) => `id-${i}`);
  const result = await client.markRead(ids);
  assert.deepEqual(calls.map((c) => c.body.length), [500, 500, 201]);
  assert.deepEqual(result, { marked: 1201, unread_count: 0, position: 4 });
});

test("a 401 is retried once with a fresh token, other errors raise NotificationsApiError", async () => {
  const { fetch, calls } = fakeFetch([
    [401, { detail: "token expired" }],
    [200, { unread_count: 4, position: 8 }],
    [400, { status_code: 400, detail: "malformed cursor" }],
  ]);
  const asked = [];
  const { client } = makeClient({
    fetch,
    getToken: (opts) => {
      asked.push(opts?.refresh ?? false);
      return `t${asked.length}`;
    },
  });
  const count = await client.fetchUnreadCount();
  assert.deepEqual(count, { unread_count: 4, position: 8 });
  assert.deepEqual(asked, [false, true]);
  assert.equal(calls[1].headers.Authorization, "Bearer t2");
  await assert.rejects(client.listNotifications({ cursor: "bad" }), (error) => {
    assert.ok(error instanceof NotificationsApiError);
    assert.equal(error.status, 400);
    assert.equal(error.detail, "malformed cursor");
    return true;
  });
});

test("a close's retry hint, not the backoff, says when to come back", async () => {
  const ctx = makeClient({ random: () => 0.999 }); // the client's own backoff: almost 1 s
  ctx.client.start();
  await handshake(ctx);
  ctx.sockets[0].serverClose(1012, "service restarting; retry after 120 ms");
  ctx.clock.advance(119);
  await flush();
  assert.equal(ctx.sockets.length, 1, "reconnected before the hint");
  ctx.clock.advance(1);
  await flush();
  assert.equal(ctx.sockets.length, 2, "the backoff held back a hinted reconnect");
});

test("a busy close's retry hint holds the next attempt back at least that long", async () => {
  const ctx = makeClient({ random: () => 0 }); // the client's own backoff would retry at once
  ctx.client.start();
  await handshake(ctx);
  ctx.sockets[0].serverClose(1013, "busy; retry after 3000 ms");
  assert.deepEqual(ctx.client.lastClose, { code: 1013, reason: "busy; retry after 3000 ms" });
  ctx.clock.advance(2999);
  await flush();
  assert.equal(ctx.sockets.length, 1, "reconnected before the hint");
  ctx.clock.advance(1);
  await flush();
  assert.equal(ctx.sockets.length, 2);
  // A close without a hint goes back to the client's own backoff.
  await handshake(ctx);
  ctx.sockets[1].serverClose(4409, "client too slow: outgoing queue full");
  ctx.clock.advance(0);
  await flush();
  assert.equal(ctx.sockets.length, 3);
  ctx.client.stop();
});

test('with auth: "cookie" nothing asks for a token: the socket says where to resume, REST sends the cookie', async () => {
  const { fetch, calls } = fakeFetch([[200, { unread_count: 2, position: 4 }]]);
  const { client, sockets } = makeClient({ auth: "cookie", getToken: undefined, fetch });
  client.start();
  await handshake({ sockets }, { position: 4, unread: 2 });
  assert.deepEqual(sockets[0].sentJson(), [{ type: "auth" }]);
  sockets[0].serverClose(1006);
  assert.equal(calls[0].headers.Authorization, undefined);
  assert.equal(calls[0].credentials, "include");
  client.stop();
});
