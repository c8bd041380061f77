// Unit tests of notifications-socket.js on its own: it keeps a link open for any
// protocol (here a made-up one whose handshake is the text "ready").
// Run with `node --test web/tests/` (pytest runs it: tests/web/test_js_unit.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ReconnectingSocket, webSocketLink } from "../notifications-socket.js";
import { FakeClock, fakeWebSocketClass, flush } from "./fakes.mjs";

function makeSocket(overrides = {}) {
  const clock = new FakeClock();
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const received = [];
  const statuses = [];
  const socket = new ReconnectingSocket({
    open: () => webSocketLink(FakeWebSocket, "ws://echo.test/", () => "hi"),
    isReady: (data) => data === "ready",
    onmessage: (data) => received.push(data),
    onstatus: (state) => statuses.push(state.status),
    fallback: false,
    ping: "are you there",
    timers: clock,
    random: () => 0.999999,
    now: () => clock.now,
    window: null,
    document: null,
    ...overrides,
  });
  return { socket, clock, sockets, received, statuses };
}

test("any protocol: its greeting goes first, its own handshake message opens the link", async () => {
  const { socket, sockets, received, statuses } = makeSocket();
  socket.start();
  await flush();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, ["hi"]);
  sockets[0].receive("not yet");
  assert.equal(socket.status, "connecting");
  sockets[0].receive("ready");
  sockets[0].receive("data");
  assert.equal(socket.status, "open");
  assert.deepEqual(received, ["not yet", "ready", "data"]);
  assert.deepEqual(statuses, ["connecting", "open"]);
  socket.stop();
  assert.equal(sockets[0].closed, 1000);
});

test("without its handshake the link is dropped with the owner's timeout code and retried", async () => {
  const { socket, clock, sockets } = makeSocket({ timeoutCode: 4999 });
  socket.start();
  await flush();
  sockets[0].open();
  clock.advance(4000);
  assert.equal(sockets[0].closed, 4999);
  assert.equal(socket.status, "waiting");
  clock.advance(1000);
  await flush();
  assert.equal(sockets.length, 2);
  socket.stop();
});

test("the owner's retry hint, given when the far end closes, replaces the backoff", async () => {
  let socket;
  const ctx = makeSocket({ onclose: (code) => code === 1013 && socket.retryIn(7000) });
  socket = ctx.socket;
  socket.start();
  await flush();
  ctx.sockets[0].open();
  ctx.sockets[0].receive("ready");
  ctx.sockets[0].serverClose(1013, "busy");
  assert.deepEqual(socket.lastClose, { code: 1013, reason: "busy" });
  assert.deepEqual(ctx.clock.delays(), [7000]);
  socket.stop();
});

test("a null link (nothing to connect with yet) is retried after the backoff, never given up", async () => {
  let allowed = false;
  const { FakeWebSocket, sockets } = fakeWebSocketClass();
  const { socket, clock } = makeSocket({
    open: () => (allowed ? webSocketLink(FakeWebSocket, "ws://echo.test/") : null),
  });
  socket.start();
  for (let i = 0; i < 5; i++) {
    await flush();
    clock.advance(60_000);
  }
  assert.equal(sockets.length, 0);
  allowed = true;
  await flush();
  clock.advance(60_000);
  await flush();
  assert.equal(sockets.length, 1);
  socket.stop();
});
