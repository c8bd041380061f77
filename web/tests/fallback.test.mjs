// Unit tests of the client's fallback to Server-Sent Events where WebSockets are blocked,
// and of the way back. Run with `node --test web/tests/` (tests/web/test_js_unit.py runs it).
import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULTS, FALLBACK_DEFAULTS, NotificationsClient } from "../notifications-client.js";
import { FakeClock, FakeTarget, fakeEventSourceClass, fakeWebSocketClass, flush, ticketFetch } from "./fakes.mjs";

function makeClient(overrides = {}, answers = []) {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const { FakeEventSource, sources } = fakeEventSourceClass();
  const rest = ticketFetch(answers);
  let tokens = 0;
  const events = [];
  const client = new NotificationsClient({
    baseUrl: "http://svc.test",
    getToken: () => `token-${++tokens}`,
    WebSocket: FakeWebSocket,
    EventSource: FakeEventSource,
    fetch: rest.fetch,
    timers: clock,
    random: () => 0.999999,
    now: () => clock.now,
    window: new FakeTarget(),
    document: new FakeTarget(),
    BroadcastChannel: null,
    ...overrides,
  });
  client.subscribe((event) => events.push(event));
  return { client, clock, sockets, sources, rest, events };
}

const change = (position, unread = position) => ({
  type: "notification",
  position,
  unread_count: unread,
  notification: { id: `n${position}` },
});
const applied = (events) => events.filter((e) => e.type === "notification").map((e) => e.position);
const transports = (events) =>
  events.filter((e) => e.type === "status").map((e) => e.transport).filter((t, i, all) => t !== all[i - 1]);

/** Run the pending timers (backoff, probes) and the promises they start. */
async function step(ctx, ms = DEFAULTS.maxDelay) {
  ctx.clock.advance(ms);
  await flush();
  await flush();
}

/** Up on a socket at `position`, then `failures` WebSocket attempts that never open. */
async function blockedAfter(ctx, position, failures = FALLBACK_DEFAULTS.after) {
  ctx.client.start();
  await flush();
  ctx.sockets[0].open();
  ctx.sockets[0].receive({ type: "hello", user_id: 7, unread_count: position, position });
  ctx.sockets[0].serverClose(1006); // dropped after hello: not a failure to open
  for (let i = 0; i < failures; i++) {
    await step(ctx);
    ctx.sockets.at(-1).serverClose(1006); // the upgrade refused on the way
  }
  await step(ctx);
}

test("after three WebSocket attempts that fail to open it falls back to the event stream, resuming", async () => {
  const ctx = makeClient();
  await blockedAfter(ctx, 5);
  assert.equal(ctx.sockets.length, 4, "one socket that worked, three that never opened");
  assert.equal(ctx.client.transport, "sse");
  const [ticket] = ctx.rest.tickets();
  assert.equal(ticket.url, "http://svc.test/api/notifications/stream/ticket");
  assert.equal(ticket.method, "POST");
  assert.match(ticket.headers.Authorization, /^Bearer token-\d+$/);
  const source = ctx.sources[0];
  assert.equal(source.url.split("?")[0], "http://svc.test/api/notifications/stream");
  assert.deepEqual(source.params, { ticket: "t-1", since: "5" }, "the token never goes in the URL");
  source.receive({ type: "hello", user_id: 7, unread_count: 7, position: 7 });
  assert.equal(ctx.client.status, "open");
  source.receive(change(5)); // already applied: dropped
  source.receive(change(6));
  source.receive(change(7));
  source.receive(change(7));
  assert.deepEqual(applied(ctx.events), [6, 7]);
  assert.equal(ctx.client.position, 7);
  assert.equal(ctx.client.unreadCount, 7);
  assert.deepEqual(transports(ctx.events), ["websocket", "sse"]);
  const switched = ctx.events.find((e) => e.type === "status" && e.transport === "sse");
  assert.ok(switched, "a status event says so");
  ctx.client.stop();
});

test("closes from the service, and sockets that opened, never count toward the fallback", async () => {
  const ctx = makeClient();
  ctx.client.start();
  for (const code of [4401, 1013, 4403, 4429, 1012, 4401]) {
    await flush();
    ctx.sockets.at(-1).open();
    ctx.sockets.at(-1).serverClose(code, "retry after 10 ms");
    await step(ctx);
  }
  // Two failures, a socket that works, two more failures: never three in a row.
  for (const fails of [2, 2]) {
    for (let i = 0; i < fails; i++) {
      ctx.sockets.at(-1).serverClose(1006);
      await step(ctx);
    }
    ctx.sockets.at(-1).open();
    ctx.sockets.at(-1).receive({ type: "hello", user_id: 7, unread_count: 0, position: 0 });
    ctx.sockets.at(-1).serverClose(1001);
    await step(ctx);
  }
  assert.equal(ctx.sources.length, 0);
  assert.equal(ctx.client.transport, "websocket");
  ctx.client.stop();
});

test("a socket that opens but never says hello counts: a proxy may pass the upgrade and nothing else", async () => {
  const ctx = makeClient();
  ctx.client.start();
  for (let i = 0; i < 3; i++) {
    await flush();
    ctx.sockets.at(-1).open();
    ctx.clock.advance(DEFAULTS.connectTimeout);
    await step(ctx);
  }
  assert.equal(ctx.client.transport, "sse");
  assert.equal(ctx.sources.length, 1);
  ctx.client.stop();
});

test("the stream's close event is a socket's close: 4401 refreshes the token, a hint holds back", async () => {
  const asked = [];
  const ctx = makeClient({
    getToken: (opts) => {
      asked.push(Boolean(opts && opts.refresh));
      return "t";
    },
    random: () => 0,
  });
  await blockedAfter(ctx, 2);
  ctx.sources[0].receive({ type: "hello", user_id: 7, unread_count: 2, position: 2 });
  ctx.sources[0].receive(change(3));
  ctx.sources[0].serverClose(4401, "token expired");
  assert.deepEqual(ctx.client.lastClose, { code: 4401, reason: "token expired" });
  await step(ctx);
  assert.equal(asked.at(-1), true, "asked for a fresh token");
  assert.equal(ctx.sources.length, 2, "still on the stream: a new ticket, resuming after 3");
  assert.deepEqual(ctx.sources[1].params, { ticket: "t-2", since: "3" });
  ctx.sources[1].receive({ type: "hello", user_id: 7, unread_count: 3, position: 3 });
  ctx.sources[1].serverClose(1013, "busy; retry after 3000 ms");
  ctx.clock.advance(2999);
  await flush();
  assert.equal(ctx.sources.length, 2, "not before the hint");
  await step(ctx, 1);
  assert.equal(ctx.sources.length, 3);
  ctx.client.stop();
});

test("a stream that fails before hello makes the next attempt a socket: the service may be down", async () => {
  const ctx = makeClient();
  await blockedAfter(ctx, 1);
  ctx.sources[0].error(); // nothing got through: as when the service is down
  await step(ctx);
  assert.equal(ctx.client.transport, "websocket");
  assert.equal(ctx.sockets.length, 5);
  ctx.sockets.at(-1).serverClose(1006); // still blocked
  await step(ctx);
  assert.equal(ctx.client.transport, "sse");
  ctx.sources[1].receive({ type: "hello", user_id: 7, unread_count: 1, position: 1 });
  ctx.sources[1].error(); // dropped after hello: the stream worked, stay on it
  await step(ctx);
  assert.equal(ctx.client.transport, "sse");
  assert.equal(ctx.sources.length, 3);
  assert.deepEqual(ctx.sources[2].params, { ticket: "t-3", since: "1" });
  ctx.client.stop();
});

test("a refused ticket is the service answering: 401 refreshes and stays, 503 waits for Retry-After", async () => {
  const asked = [];
  const ctx = makeClient(
    {
      getToken: (opts) => {
        asked.push(Boolean(opts && opts.refresh));
        return "t";
      },
      random: () => 0,
    },
    [
      [401, { status_code: 401, detail: "token expired" }, null],
      [503, { status_code: 503, detail: "the database is unavailable; retry shortly" }, "2"],
      [200, "network", null],
    ],
  );
  await blockedAfter(ctx, 0);
  assert.deepEqual(ctx.client.lastClose, { code: 4401, reason: "token expired" });
  await step(ctx);
  assert.equal(asked.at(-1), true);
  assert.deepEqual(ctx.client.lastClose, {
    code: 1013,
    reason: "the database is unavailable; retry shortly; retry after 2000 ms",
  });
  assert.equal(ctx.client.transport, "sse");
  ctx.clock.advance(1999);
  await flush();
  assert.equal(ctx.rest.tickets().length, 2, "not before Retry-After");
  await step(ctx, 1);
  assert.equal(ctx.rest.tickets().length, 3);
  await step(ctx);
  assert.equal(ctx.client.transport, "websocket", "the ticket request got nowhere: try the socket");
  assert.equal(ctx.sources.length, 0);
  ctx.client.stop();
});

test("on the stream it tries the socket again; on its hello the socket takes over, nothing lost or doubled", async () => {
  const ctx = makeClient();
  await blockedAfter(ctx, 4);
  const source = ctx.sources[0];
  source.receive({ type: "hello", user_id: 7, unread_count: 4, position: 4 });
  const before = ctx.sockets.length;
  ctx.clock.advance(DEFAULTS.stableAfter); // soon after the switch: the socket may be back already
  await flush();
  assert.equal(ctx.sockets.length, before + 1, "a probe socket");
  const probe = ctx.sockets.at(-1);
  source.receive(change(5)); // the stream keeps delivering while the probe connects
  probe.open();
  assert.deepEqual(probe.sentJson(), [{ type: "auth", token: probe.sentJson()[0].token, since: 5 }]);
  source.receive(change(6)); // after the probe's since: its replay repeats it
  assert.equal(ctx.client.transport, "sse");
  probe.receive({ type: "hello", user_id: 7, unread_count: 7, position: 7 });
  assert.equal(ctx.client.transport, "websocket");
  assert.equal(source.closed, true, "the stream is closed");
  source.receive(change(8)); // a late event of the closed stream: never dispatched
  probe.receive(change(6));
  probe.receive(change(7));
  probe.receive(change(8));
  assert.deepEqual(applied(ctx.events), [5, 6, 7, 8]);
  assert.equal(ctx.client.status, "open");
  assert.deepEqual(transports(ctx.events), ["websocket", "sse", "websocket"]);
  // The promoted socket is the connection: pinged, and a drop reconnects it as a socket.
  ctx.clock.advance(DEFAULTS.pingInterval);
  assert.deepEqual(probe.sentJson().at(-1), { type: "ping" });
  probe.serverClose(1006);
  await step(ctx);
  assert.equal(ctx.sockets.at(-1).url, "ws://svc.test/api/notifications/ws");
  assert.equal(ctx.sources.length, 1);
  ctx.client.stop();
});

test("a failed probe keeps the stream and tries again within the retry interval", async () => {
  const ctx = makeClient({ fallback: { retryWebSocket: 60000 } });
  await blockedAfter(ctx, 0);
  ctx.sources[0].receive({ type: "hello", user_id: 7, unread_count: 0, position: 0 });
  ctx.clock.advance(DEFAULTS.stableAfter);
  await flush();
  const first = ctx.sockets.at(-1);
  first.serverClose(1006);
  assert.equal(ctx.client.transport, "sse");
  assert.equal(ctx.sources[0].closed, false);
  const count = ctx.sockets.length;
  assert.ok(ctx.clock.delays().every((d) => d <= 60000 && d >= 30000), "jittered down to half");
  ctx.clock.advance(60000);
  await flush();
  assert.equal(ctx.sockets.length, count + 1, "the next probe, within the interval");
  ctx.clock.advance(DEFAULTS.connectTimeout); // a probe that hangs is given up too
  assert.notEqual(ctx.sockets.at(-1).closed, null);
  assert.equal(ctx.client.status, "open");
  ctx.client.stop();
  assert.equal(ctx.sources[0].closed, true);
  assert.deepEqual(ctx.clock.delays(), [], "stop cancels every timer");
});

test("with fallback: false, or without EventSource, it stays on the WebSocket", async () => {
  for (const overrides of [{ fallback: false }, { EventSource: null }]) {
    const ctx = makeClient(overrides);
    ctx.client.start();
    for (let i = 0; i < 6; i++) {
      await flush();
      ctx.sockets.at(-1).serverClose(1006);
      await step(ctx);
    }
    assert.equal(ctx.sources.length, 0);
    assert.equal(ctx.client.transport, "websocket");
    ctx.client.stop();
  }
});

test("`online` replaces an open stream at once (it cannot be probed like a socket)", async () => {
  const win = new FakeTarget();
  const ctx = makeClient({ window: win });
  await blockedAfter(ctx, 3);
  ctx.sources[0].receive({ type: "hello", user_id: 7, unread_count: 3, position: 3 });
  win.fire("online");
  await flush();
  await flush();
  assert.equal(ctx.sources[0].closed, true);
  assert.equal(ctx.sources.length, 2);
  assert.deepEqual(ctx.sources[1].params, { ticket: "t-2", since: "3" });
  ctx.client.stop();
});

test('with auth: "cookie" the stream needs no ticket: the browser sends the cookie with it', async () => {
  const ctx = makeClient({ auth: "cookie", getToken: undefined });
  await blockedAfter(ctx, 3);
  assert.equal(ctx.client.transport, "sse");
  assert.equal(ctx.rest.tickets().length, 0);
  const source = ctx.sources.at(-1);
  assert.deepEqual(source.params, { since: "3" });
  assert.equal(source.withCredentials, true);
  source.receive({ type: "hello", user_id: 7, unread_count: 3, position: 3 });
  source.receive(change(4));
  assert.deepEqual(applied(ctx.events), [4]);
  ctx.client.stop();
});
