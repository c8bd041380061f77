// notifications-client.js — the ONE object that talks to the notifications service.
//
// It owns the WebSocket (backoff with full jitter, connect timeout, ping,
// reconnect on `online` / tab visible), the fallback to Server-Sent Events
// where WebSockets are blocked (and the way back), the stream position used
// to resume without gaps or duplicates, the unread count, and the REST calls
// (notifications-rest.js makes them).
// The custom elements only subscribe to it. No DOM access at import time,
// so it loads in Node (unit tests) and during server-side rendering.
//
// Protocol: docs/WEBSOCKET.md, docs/SSE.md. Endpoints: docs/API.md. Usage: docs/WEB.md.

import { CHANGE_TYPES, CLOSE } from "./notifications-protocol.js";
import { NotificationsApiError, NotificationsRest } from "./notifications-rest.js";

/** Backoff and liveness defaults (milliseconds), after partysocket's. */
export const DEFAULTS = Object.freeze({
  initialDelay: 1000, // first retry waits up to this long
  factor: 1.4, // each failed attempt multiplies the ceiling
  maxDelay: 30000, // the ceiling never grows past this
  connectTimeout: 4000, // open + `hello` must arrive within this
  stableAfter: 5000, // the attempt counter resets only after this much uptime
  pingInterval: 25000, // app-level ping (the server closes idle sockets after 75 s)
  pongTimeout: 10000, // no traffic this long after a ping: the socket is dead
});

/**
 * When to fall back to Server-Sent Events: after `after` WebSocket attempts in a row
 * failed to open (no upgrade, or no `hello`, and no close code from the service),
 * and how often to try the WebSocket again while on the fallback (jittered down to
 * half). `fallback: false` turns it off.
 */
export const FALLBACK_DEFAULTS = Object.freeze({
  after: 3,
  retryWebSocket: 180000,
});

export { CHANGE_TYPES, NotificationsApiError };

const WS_PATH = "/api/notifications/ws";
const STREAM_PATH = "/api/notifications/stream";
// Close codes the service sends: a socket closed with one of them did open, so
// WebSockets get through (docs/WEBSOCKET.md, close codes).
const SERVICE_CLOSES = new Set([1000, 1001, CLOSE.internal, CLOSE.restarting, CLOSE.busy]);

/**
 * Delay before reconnect attempt number `attempt` (0-based): "full jitter",
 * uniform in [0, min(maxDelay, initialDelay * factor^attempt, max(initialDelay, elapsed))).
 * Spreading retries over the whole window keeps a fleet of tabs from
 * stampeding the service when it comes back.
 */
export function backoffDelay(attempt, options = DEFAULTS, random = Math.random, elapsed = Infinity) {
  // Attempts that fail at once (a port with no process behind it yet, during a
  // restart) must not widen the window faster than time passes: it never exceeds
  // the time since the connection was lost (`elapsed`, ms), nor the initial delay.
  const ceiling = Math.min(options.maxDelay, options.initialDelay * options.factor ** attempt,
    Math.max(options.initialDelay, elapsed));
  return Math.floor(ceiling * random());
}

const realTimers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
};

function websocketUrlFor(baseUrl) {
  const origin = baseUrl || (globalThis.location ? globalThis.location.origin : "");
  const url = new URL(WS_PATH, origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function streamUrlFor(baseUrl) {
  return new URL(STREAM_PATH, baseUrl || (globalThis.location ? globalThis.location.origin : "")).toString();
}

/**
 * A refused stream-ticket request as the socket's close (401 → 4401, 403 → 4403,
 * 429 → 4429, 503 → 1013, ...), so `lastClose` and the retry hint work alike on both.
 */
function closeForStatus(status, detail, retryAfterSeconds) {
  const code = { 400: CLOSE.protocol, 401: CLOSE.auth, 403: CLOSE.origin, 429: CLOSE.tooMany,
    503: CLOSE.busy }[status] ?? CLOSE.internal;
  let reason = String(detail ?? "");
  const seconds = Number(retryAfterSeconds);
  if (!/retry after \d+ ms/.test(reason) && seconds > 0) reason += `; retry after ${Math.round(seconds * 1000)} ms`;
  return { code, reason };
}

export class NotificationsClient {
  /**
   * @param {object} options
   * @param {(opts?: {refresh?: boolean}) => string | Promise<string>} options.getToken
   *   called on every (re)connect and REST call, so a refreshed token is always used.
   * @param {string} [options.baseUrl] the service origin, e.g. "https://notify.example"; default: this page's.
   * @param {string} [options.wsUrl] override the WebSocket URL.
   * @param {string} [options.sseUrl] override the event stream URL (its ticket is at `${sseUrl}/ticket`).
   * @param {{after?: number, retryWebSocket?: number} | false} [options.fallback] see FALLBACK_DEFAULTS.
   * @param {typeof WebSocket} [options.WebSocket] injectable for tests.
   * @param {typeof EventSource | null} [options.EventSource] injectable; null turns the fallback off.
   * @param {typeof fetch | null} [options.fetch] injectable for tests.
   * @param {{setTimeout: Function, clearTimeout: Function}} [options.timers] injectable clock.
   * @param {() => number} [options.random] injectable jitter source.
   * @param {() => number} [options.now] injectable wall clock.
   * @param {EventTarget | null} [options.window] where `online` fires (default globalThis).
   * @param {Document | null} [options.document] where `visibilitychange` fires.
   * @param {typeof BroadcastChannel | null} [options.BroadcastChannel] null turns the tab relay off.
   */
  constructor(options) {
    if (!options || typeof options.getToken !== "function") {
      throw new TypeError("NotificationsClient needs a getToken() function");
    }
    this._getToken = options.getToken;
    this._baseUrl = (options.baseUrl || "").replace(/\/+$/, "");
    this._wsUrl = options.wsUrl || null;
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._sseUrl = options.sseUrl || null;
    this._EventSource = options.EventSource === undefined ? globalThis.EventSource || null : options.EventSource;
    this._fallback = options.fallback === false ? null : { ...FALLBACK_DEFAULTS, ...(options.fallback || {}) };
    this._fetch =
      options.fetch === undefined ? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : null) : options.fetch;
    this._rest = new NotificationsRest({
      baseUrl: this._baseUrl,
      fetch: this._fetch,
      getToken: this._getToken,
      onCount: (position, unreadCount) => this.noteCount(position, unreadCount),
      badge: () => ({ unread_count: this.unreadCount, position: this._shown.position }),
    });
    this._timers = options.timers || realTimers;
    this._random = options.random || Math.random;
    this._now = options.now || Date.now;
    this._window = options.window === undefined ? globalThis : options.window;
    this._document = options.document === undefined ? globalThis.document || null : options.document;
    this._Channel =
      options.BroadcastChannel === undefined ? globalThis.BroadcastChannel || null : options.BroadcastChannel;
    this._config = { ...DEFAULTS, ...(options.backoff || {}) };

    this._listeners = new Set(); // every applied change, plus status/reset/resync
    this._countListeners = new Set();
    this._started = false;
    this._socket = null;
    this._generation = 0; // bumps on every new connection; stale callbacks check it
    this._attempts = 0;
    this._lostAt = 0; // when the connection that was healthy was lost (ms, this._now)
    this._needFreshToken = false;
    this._status = "idle"; // idle | connecting | open | waiting
    this._lastClose = null; // {code, reason} of the last socket close (1006: no close frame)
    this._retryAfter = null; // ms the service asked us to wait before the next attempt
    this._timer = {
      reconnect: null,
      connect: null,
      stable: null,
      ping: null,
      pong: null,
      probe: null,
      probeConnect: null,
    };
    this._transport = "websocket"; // of the current (or next) connection
    this._source = null; // the EventSource while on the fallback
    this._wsFailures = 0; // WebSocket attempts in a row that failed to open
    this._sseFailed = false; // the last stream attempt failed before hello: try the socket next
    this._probe = null; // a WebSocket tried while on the fallback, not yet promoted
    this._probeSoon = false; // probe once the stream is up (just switched, or a probe came due)

    this._userId = null;
    this._applied = null; // last stream position applied (resume `since`)
    this._shown = { position: null, unreadCount: null }; // freshest known count
    this._channel = null;

    this._onOnline = () => {
      // The network changed under an open stream, which cannot be probed as a socket can: replace it.
      if (this._source) this._dropSocket(1000);
      this.reconnectNow();
    };
    this._onVisibility = () => {
      if (this._document && this._document.visibilityState === "visible") this.reconnectNow();
    };
  }

  // ---- state --------------------------------------------------------------

  /** The unread count from the freshest position seen (null until known). */
  get unreadCount() {
    return this._shown.unreadCount;
  }

  /** The last stream position applied from the socket (null before the first `hello`). */
  get position() {
    return this._applied;
  }

  /** "idle" | "connecting" | "open" | "waiting" (backing off). */
  get status() {
    return this._status;
  }

  /** "websocket", or "sse" while on the Server-Sent Events fallback. */
  get transport() {
    return this._transport;
  }

  /**
   * `{code, reason}` of the last close of the socket (docs/WEBSOCKET.md, close codes;
   * 1006 when the upgrade was refused or the connection dropped), or null.
   */
  get lastClose() {
    return this._lastClose;
  }

  get userId() {
    return this._userId;
  }

  /**
   * Listen to everything: applied change messages (`notification`, `read`, ...,
   * exactly once each, in position order), `{type:"reset"}` when the stream was
   * joined without replay, `{type:"resync"}` when the list must be reloaded, and
   * `{type:"status", status, transport}` (also when only the transport changed).
   * Returns an unsubscribe function.
   */
  subscribe(listener) {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  /** Call `listener(count)` now (if known) and whenever the unread count changes. */
  onUnreadCount(listener) {
    this._countListeners.add(listener);
    if (this._shown.unreadCount !== null) listener(this._shown.unreadCount);
    return () => this._countListeners.delete(listener);
  }

  /**
   * Record a count the caller read at `position` (a REST answer). It is shown
   * only if no fresher one is known. It never moves the resume position:
   * only applied socket messages do, so nothing in between is skipped.
   */
  noteCount(position, unreadCount) {
    if (typeof position !== "number" || typeof unreadCount !== "number") return;
    if (this._shown.position === null || position >= this._shown.position) {
      this._setShown(position, unreadCount);
    }
  }

  /**
   * Before the first connection, start the stream at `position` (e.g. the
   * `position` of a list the page just rendered) so the socket replays what
   * came after it. Ignored once a position is known.
   */
  seed(position) {
    if (this._applied === null && typeof position === "number") this._applied = position;
  }

  // ---- connection -----------------------------------------------------------

  /** Connect and stay connected until stop(). Idempotent. */
  start() {
    if (this._started) return this;
    this._started = true;
    if (this._window && this._window.addEventListener) {
      this._window.addEventListener("online", this._onOnline);
    }
    if (this._document && this._document.addEventListener) {
      this._document.addEventListener("visibilitychange", this._onVisibility);
    }
    if (this._shown.unreadCount === null) {
      // Show the badge even before (or without) the socket.
      this.fetchUnreadCount().catch(() => {});
    }
    this._connect();
    return this;
  }

  /** Close the socket and stop reconnecting. */
  stop() {
    this._started = false;
    if (this._window && this._window.removeEventListener) {
      this._window.removeEventListener("online", this._onOnline);
    }
    if (this._document && this._document.removeEventListener) {
      this._document.removeEventListener("visibilitychange", this._onVisibility);
    }
    for (const name of ["reconnect", "probe"]) this._clearTimer(name);
    this._endProbe();
    this._dropSocket(1000);
    if (this._channel) {
      this._channel.close();
      this._channel = null;
    }
    this._setStatus("idle");
  }

  /** Reconnect at once (network back, tab visible); a live socket is probed with a ping. */
  reconnectNow() {
    if (!this._started) return;
    if (this._socket) {
      if (this._status === "open") this._sendPing();
      return;
    }
    if (this._source) return;
    this._clearTimer("reconnect");
    this._connect();
  }

  async _connect() {
    if (!this._started || this._socket || this._source) return;
    const generation = ++this._generation;
    this._setTransport(this._nextTransport());
    this._setStatus("connecting");
    let token;
    try {
      // After a 4401 (expired or refused token) ask for a new one, not a cached one.
      token = await this._getToken(this._needFreshToken ? { refresh: true } : undefined);
    } catch {
      token = null;
    }
    if (generation !== this._generation || !this._started) return;
    if (!token) {
      this._scheduleReconnect();
      return;
    }
    if (this._transport === "sse") {
      this._openStream(generation, token);
      return;
    }
    let socket;
    try {
      socket = new this._WebSocket(this._wsUrl || websocketUrlFor(this._baseUrl));
    } catch {
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    const live = () => generation === this._generation && this._socket === socket;

    this._setTimer("connect", this._config.connectTimeout, () => {
      if (!live()) return;
      this._wsFailures++; // opened or not, no hello: as good as blocked
      this._lose(CLOSE.timeout);
    });
    socket.onopen = () => {
      if (!live()) return;
      // The token travels in the first message, never in the URL (logs, proxies).
      const auth = { type: "auth", token };
      if (this._applied !== null) auth.since = this._applied;
      socket.send(JSON.stringify(auth));
    };
    this._wireSocket(socket, live);
  }

  /** The handlers of the connection's socket (also of a probe, once promoted). */
  _wireSocket(socket, live) {
    socket.onmessage = (event) => {
      if (live()) this._receive(event.data);
    };
    socket.onerror = () => {}; // a close event always follows
    socket.onclose = (event) => {
      if (!live()) return;
      const code = event ? event.code : 1006;
      if (this._status !== "open") {
        // Closed before hello: by the service (the socket got through), or by the way there.
        if (code >= 3000 || SERVICE_CLOSES.has(code)) this._wsFailures = 0;
        else this._wsFailures++;
      }
      this._closed(code, event ? event.reason : "");
    };
  }

  /** The service ended the connection with `code` (a socket's close, or the stream's `close`). */
  _closed(code, reason) {
    this._lastClose = { code, reason };
    this._needFreshToken = code === CLOSE.auth;
    // A busy service (1013), a user over their socket cap (4429) or a draining
    // process (1012) says when to come back.
    const hint = /retry after (\d+) ms/.exec(reason || "");
    this._retryAfter = hint ? Math.min(Number(hint[1]), this._config.maxDelay * 4) : null;
    this._lose();
  }

  // ---- the Server-Sent Events fallback (docs/SSE.md) ------------------------------

  _canFallBack() {
    return Boolean(this._fallback && this._EventSource && this._fetch);
  }

  _nextTransport() {
    if (!this._canFallBack()) return "websocket";
    if (this._transport === "sse" && !this._sseFailed) return "sse";
    // A stream that could not get through either: the service may be down, not the
    // socket blocked, so try the socket again (it tells the two apart).
    const fallBack = this._transport === "websocket" && this._wsFailures >= this._fallback.after;
    this._sseFailed = false;
    return fallBack ? "sse" : "websocket";
  }

  _setTransport(transport) {
    if (this._transport === transport) return;
    this._transport = transport;
    if (transport === "sse") this._probeSoon = true; // the socket may be back already
    else this._clearTimer("probe");
    this._emitStatus();
  }

  _streamUrl() {
    return this._sseUrl || streamUrlFor(this._baseUrl);
  }

  /** A single-use ticket for one stream (EventSource cannot send the token in a header). */
  async _streamTicket(token) {
    const response = await this._fetch(`${this._streamUrl().split("?")[0]}/ticket`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      // not JSON
    }
    if (!response.ok || !body || typeof body.ticket !== "string") {
      const error = new NotificationsApiError(response.status, body?.detail ?? response.statusText);
      error.retryAfter = response.headers?.get?.("Retry-After") ?? null;
      throw error;
    }
    return body.ticket;
  }

  async _openStream(generation, token) {
    const live = () => generation === this._generation && this._started;
    this._setTimer("connect", this._config.connectTimeout, () => {
      if (!live()) return;
      this._sseFailed = true;
      this._lose();
    });
    let ticket;
    try {
      ticket = await this._streamTicket(token);
    } catch (error) {
      if (!live()) return;
      if (error instanceof NotificationsApiError) {
        // The service answered: the stream gets through, and its answer says what to do.
        const close = closeForStatus(error.status, error.detail, error.retryAfter);
        this._closed(close.code, close.reason);
      } else {
        this._sseFailed = true;
        this._lastClose = { code: 1006, reason: "" };
        this._lose();
      }
      return;
    }
    if (!live()) return;
    let source;
    try {
      const url = new URL(this._streamUrl(), globalThis.location?.href);
      url.searchParams.set("ticket", ticket);
      if (this._applied !== null) url.searchParams.set("since", String(this._applied));
      source = new this._EventSource(url.toString());
    } catch {
      this._sseFailed = true;
      this._lose();
      return;
    }
    this._source = source;
    const liveSource = () => generation === this._generation && this._source === source;
    source.onmessage = (event) => {
      if (liveSource()) this._receive(event.data);
    };
    // The stream's last event: the code and reason a socket's close would carry.
    source.addEventListener("close", (event) => {
      if (!liveSource()) return;
      let info = null;
      try {
        info = JSON.parse(event.data);
      } catch {
        // not JSON
      }
      this._closed(typeof info?.code === "number" ? info.code : 1006, String(info?.reason ?? ""));
    });
    source.onerror = () => {
      if (!liveSource()) return;
      // EventSource would reconnect by itself, but with its spent ticket and no backoff.
      if (this._status !== "open") this._sseFailed = true;
      this._lastClose = { code: 1006, reason: "" };
      this._lose();
    };
  }

  /** Every so often while on the fallback, try the socket; on its hello it takes over. */
  _scheduleProbe(ms) {
    const delay = ms ?? Math.floor(this._fallback.retryWebSocket * (0.5 + 0.5 * this._random()));
    this._setTimer("probe", delay, () => {
      if (this._transport !== "sse" || !this._started) return;
      if (this._source && this._status === "open") this._probeWebSocket();
      else this._probeSoon = true; // when the stream is up again
    });
  }

  async _probeWebSocket() {
    if (this._probe) return;
    const probe = { socket: null };
    this._probe = probe;
    let token;
    try {
      token = await this._getToken();
    } catch {
      token = null;
    }
    if (this._probe !== probe) return;
    let socket;
    try {
      if (!token) throw new Error("no token");
      socket = new this._WebSocket(this._wsUrl || websocketUrlFor(this._baseUrl));
    } catch {
      this._endProbe(true);
      return;
    }
    probe.socket = socket;
    const live = () => this._probe === probe;
    this._setTimer("probeConnect", this._config.connectTimeout, () => {
      if (live()) this._endProbe(true);
    });
    socket.onopen = () => {
      if (!live()) return;
      // From what is applied by now: the socket replays what the stream delivers meanwhile,
      // and the position rule drops those copies.
      const auth = { type: "auth", token };
      if (this._applied !== null) auth.since = this._applied;
      socket.send(JSON.stringify(auth));
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (live()) this._endProbe(true);
    };
    socket.onmessage = (event) => {
      if (!live()) return;
      let message = null;
      try {
        message = JSON.parse(event.data);
      } catch {
        // not JSON
      }
      if (message && message.type === "hello") this._promote(socket, event.data);
    };
  }

  /** Stop probing; `again`: try once more later. */
  _endProbe(again = false) {
    const probe = this._probe;
    this._probe = null;
    this._clearTimer("probeConnect");
    if (probe && probe.socket) {
      const socket = probe.socket;
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(1000);
      } catch {
        // never opened
      }
    }
    if (again && this._started && this._transport === "sse") this._scheduleProbe();
  }

  /** The probe said hello: it becomes the connection and the stream is closed. */
  _promote(socket, helloData) {
    this._probe = null;
    this._clearTimer("probeConnect");
    this._clearTimer("reconnect");
    this._dropSocket(1000);
    this._wsFailures = 0;
    this._setTransport("websocket");
    const generation = this._generation;
    this._socket = socket;
    socket.onopen = null;
    this._wireSocket(socket, () => generation === this._generation && this._socket === socket);
    this._receive(helloData);
  }

  /** The socket is gone (closed, timed out, dead): clean up and back off. */
  _lose(code) {
    this._dropSocket(code);
    if (this._started) this._scheduleReconnect();
  }

  _dropSocket(code = 1000) {
    for (const name of ["connect", "stable", "ping", "pong"]) this._clearTimer(name);
    const socket = this._socket;
    const source = this._source;
    this._socket = null;
    this._source = null;
    this._generation++;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);
      } catch {
        // closing a socket that never opened may throw in some engines
      }
    }
    if (source) {
      source.onmessage = source.onerror = null;
      source.close();
    }
  }

  _scheduleReconnect() {
    // When the service said when, then (its hint is its own schedule, already
    // jittered: a busy process's turn, a draining one's spread); else the backoff.
    if (this._attempts === 0) this._lostAt = this._now();
    const delay = this._retryAfter ??
      backoffDelay(this._attempts, this._config, this._random, this._now() - this._lostAt);
    this._retryAfter = null;
    this._attempts += 1;
    this._setStatus("waiting");
    this._setTimer("reconnect", delay, () => this._connect());
  }

  _sendPing() {
    if (!this._socket || this._status !== "open") return;
    try {
      this._socket.send(JSON.stringify({ type: "ping" }));
    } catch {
      this._lose();
      return;
    }
    if (this._timer.pong === null) {
      this._setTimer("pong", this._config.pongTimeout, () => this._lose(CLOSE.timeout));
    }
  }

  _schedulePing() {
    this._setTimer("ping", this._config.pingInterval, () => {
      this._sendPing();
      this._schedulePing();
    });
  }

  // ---- messages ---------------------------------------------------------------

  _receive(data) {
    this._clearTimer("pong"); // any traffic proves the socket is alive
    if (data === "pong") return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    switch (message.type) {
      case "hello":
        this._onHello(message);
        break;
      case "resync":
        this._applied = message.position;
        this._setShown(message.position, message.unread_count);
        this._emit({ type: "resync", position: message.position, unread_count: message.unread_count });
        break;
      case "pong":
      case "error":
        break;
      default:
        if (CHANGE_TYPES.includes(message.type)) this._applyChange(message, true);
    }
  }

  _onHello(message) {
    this._clearTimer("connect");
    this._setStatus("open");
    // Only a connection that stayed up a while proves the service is healthy.
    this._setTimer("stable", this._config.stableAfter, () => {
      this._attempts = 0;
    });
    if (this._transport === "websocket") {
      this._wsFailures = 0;
      this._schedulePing();
    } else {
      this._sseFailed = false;
      if (this._probeSoon) {
        this._probeSoon = false;
        this._scheduleProbe(this._config.stableAfter);
      } else if (this._timer.probe === null && !this._probe) {
        this._scheduleProbe();
      }
    }
    if (this._userId !== null && this._userId !== message.user_id) {
      this._applied = null; // a different user: nothing of the old stream applies
      this._shown = { position: null, unreadCount: null };
      if (this._channel) {
        this._channel.close();
        this._channel = null;
      }
    }
    this._userId = message.user_id;
    this._openChannel();
    this.noteCount(message.position, message.unread_count);
    if (this._applied === null) {
      // Joined without replay: whoever holds a list older than this must reload it.
      this._applied = message.position;
      this._emit({ type: "reset", position: message.position, unread_count: message.unread_count });
    }
    // With `since`, the replay of (since, position] follows as ordinary messages.
  }

  /** Apply one change exactly once: anything at or below the applied position is a duplicate. */
  _applyChange(message, fromSocket) {
    if (typeof message.position !== "number") return;
    if (this._applied !== null && message.position <= this._applied) return;
    this._applied = message.position;
    this.noteCount(message.position, message.unread_count);
    this._emit(message);
    if (fromSocket && this._channel) {
      try {
        this._channel.postMessage({ kind: "change", message });
      } catch {
        // a closed channel: other tabs still have their own sockets
      }
    }
  }

  /**
   * Tabs agree: every tab keeps its own socket (the service sends each change
   * to every socket of the user), and each tab also relays what it applied to
   * the others over a BroadcastChannel, so a tab whose socket is reconnecting
   * still updates at once. A relayed change is applied only if it is the very
   * next position: applying a later one could make this tab drop, as a
   * "duplicate", an earlier change its own socket has not delivered yet.
   */
  _openChannel() {
    if (!this._Channel || this._channel) return;
    try {
      this._channel = new this._Channel(`notifications-v1:${this._baseUrl}:${this._userId}`);
    } catch {
      this._channel = null;
      return;
    }
    this._channel.onmessage = (event) => {
      const data = event.data;
      if (!data || data.kind !== "change" || !data.message) return;
      if (this._applied !== null && data.message.position === this._applied + 1) {
        this._applyChange(data.message, false);
      }
    };
  }

  _emit(event) {
    for (const listener of [...this._listeners]) {
      try {
        listener(event);
      } catch (error) {
        // one broken subscriber must not starve the others
        globalThis.queueMicrotask?.(() => {
          throw error;
        });
      }
    }
  }

  _setShown(position, unreadCount) {
    const changed = this._shown.unreadCount !== unreadCount;
    this._shown = { position, unreadCount };
    if (!changed) return;
    for (const listener of [...this._countListeners]) {
      try {
        listener(unreadCount);
      } catch {
        // see _emit
      }
    }
  }

  _setStatus(status) {
    if (this._status === status) return;
    this._status = status;
    this._emitStatus();
  }

  _emitStatus() {
    const { _status: status, _transport: transport } = this;
    // "waiting" says why: the close that ended the last socket.
    this._emit(
      status === "waiting"
        ? { type: "status", status, transport, close: this._lastClose }
        : { type: "status", status, transport },
    );
  }

  _setTimer(name, ms, fn) {
    this._clearTimer(name);
    this._timer[name] = this._timers.setTimeout(() => {
      this._timer[name] = null;
      fn();
    }, ms);
  }

  _clearTimer(name) {
    if (this._timer[name] !== null) {
      this._timers.clearTimeout(this._timer[name]);
      this._timer[name] = null;
    }
  }

  // ---- REST (docs/API.md): notifications-rest.js; the same calls on the client ----------

  /** GET / — newest first: `{notifications, next_cursor, unread_count, position}`. */
  listNotifications(options) {
    return this._rest.listNotifications(options);
  }

  /** GET /groups — the grouped view. */
  listGroups(options) {
    return this._rest.listGroups(options);
  }

  /** GET /unread-count — `{unread_count, position}`. */
  fetchUnreadCount() {
    return this._rest.fetchUnreadCount();
  }

  /** POST /mark-read with the ids the user was actually shown. */
  markRead(ids) {
    return this._rest.markRead(ids);
  }

  /** POST /mark-all-read; with `upTo`, only notifications at or below that position. */
  markAllRead(upTo) {
    return this._rest.markAllRead(upTo);
  }

  /** DELETE /{id}. */
  deleteNotification(id) {
    return this._rest.deleteNotification(id);
  }

  /** GET /preferences. */
  getPreferences() {
    return this._rest.getPreferences();
  }

  /** PUT /preferences with any subset of the fields; returns the full object. */
  updatePreferences(changes) {
    return this._rest.updatePreferences(changes);
  }
}

// ---- one shared client per page ----------------------------------------------------

let defaultClient = null;
const waiting = [];

/** Make `client` the one the elements use (call once, early). */
export function setDefaultClient(client) {
  defaultClient = client;
  for (const resolve of waiting.splice(0)) resolve(client);
  return client;
}

/** Create, start and register the page's client: `configureNotifications({getToken})`. */
export function configureNotifications(options) {
  return setDefaultClient(new NotificationsClient(options).start());
}

/** The registered client, or null. */
export function getDefaultClient() {
  return defaultClient;
}

/** Resolves with the registered client as soon as there is one. */
export function whenDefaultClient() {
  return defaultClient ? Promise.resolve(defaultClient) : new Promise((resolve) => waiting.push(resolve));
}
