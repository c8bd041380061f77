// notifications-stream.js — the user's stream of changes, applied exactly once,
// in order, over whatever link ReconnectingSocket keeps open (docs/WEBSOCKET.md,
// docs/SSE.md).
//
// It says `hello` (the token first, never in a URL, and `since` = the position
// applied last), applies each change whose position is past that one and drops
// the rest as duplicates, reloads on `resync`, keeps the freshest unread count,
// and relays what it applied to the user's other tabs.
//
// Positions: `position` is the last one applied (where a reconnect resumes);
// the unread count carries the position it was read at (`countPosition`), which
// a REST answer may move past `position` without skipping anything.

import { CHANGE_TYPES, CLOSE } from "./notifications-protocol.js";
import { eventStreamLink } from "./notifications-event-stream.js";
import { ReconnectingSocket, webSocketLink } from "./notifications-socket.js";

const WS_PATH = "/api/notifications/ws";
const STREAM_PATH = "/api/notifications/stream";
const PING = JSON.stringify({ type: "ping" });

function pageOrigin() {
  return globalThis.location ? globalThis.location.origin : "";
}

function websocketUrlFor(baseUrl) {
  const url = new URL(WS_PATH, baseUrl || pageOrigin());
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function parse(data) {
  try {
    const message = JSON.parse(data);
    return message && typeof message === "object" ? message : null;
  } catch {
    return null;
  }
}

const isHello = (data) => parse(data)?.type === "hello";

export class NotificationStream {
  /** Options: see NotificationsClient (the stream takes all but the REST ones). */
  constructor(options) {
    const byCookie = options?.auth === "cookie";
    if (!options || (!byCookie && typeof options.getToken !== "function")) {
      throw new TypeError('NotificationsClient needs a getToken() function, or auth: "cookie"');
    }
    this._getToken = byCookie ? null : options.getToken; // null: the browser's cookie authenticates
    this._baseUrl = (options.baseUrl || "").replace(/\/+$/, "");
    this._wsUrl = options.wsUrl || null; // default: the service's, found when connecting
    this._WebSocket = options.WebSocket || globalThis.WebSocket;
    this._sseUrl = options.sseUrl || null;
    this._EventSource = options.EventSource === undefined ? globalThis.EventSource || null : options.EventSource;
    this._fetch =
      options.fetch === undefined ? (globalThis.fetch ? globalThis.fetch.bind(globalThis) : null) : options.fetch;
    this._Channel =
      options.BroadcastChannel === undefined ? globalThis.BroadcastChannel || null : options.BroadcastChannel;
    this._needFreshToken = false;
    this._connection = new ReconnectingSocket({
      open: (kind, probe) => this._openLink(kind, probe),
      isReady: isHello,
      onmessage: (data) => this._receive(data),
      onclose: (code, reason) => this._closed(code, reason),
      onstatus: () => this._emitStatus(),
      canFallBack: () => Boolean(this._EventSource && this._fetch),
      fallback: options.fallback,
      ping: PING,
      timeoutCode: CLOSE.timeout,
      backoff: options.backoff,
      timers: options.timers,
      random: options.random,
      now: options.now,
      window: options.window,
      document: options.document,
    });

    this._listeners = new Set(); // every applied change, plus status/reset/resync
    this._countListeners = new Set();
    this._userId = null;
    this._position = null; // last stream position applied (resume `since`)
    this._unreadCount = null; // the freshest known count ...
    this._countPosition = null; // ... and the position it was read at
    this._channel = null;
  }

  // ---- state --------------------------------------------------------------

  /** The unread count from the freshest position seen (null until known). */
  get unreadCount() {
    return this._unreadCount;
  }

  /** The last stream position applied (null before the first `hello`). */
  get position() {
    return this._position;
  }

  /** "idle" | "connecting" | "open" | "waiting" (backing off). */
  get status() {
    return this._connection.status;
  }

  /** "websocket", or "sse" while on the Server-Sent Events fallback. */
  get transport() {
    return this._connection.transport === "fallback" ? "sse" : "websocket";
  }

  /**
   * `{code, reason}` of the last close of the socket (docs/WEBSOCKET.md, close codes;
   * 1006 when the upgrade was refused or the connection dropped), or null.
   */
  get lastClose() {
    return this._connection.lastClose;
  }

  /** The ReconnectingSocket under the stream. */
  get connection() {
    return this._connection;
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
    if (this._unreadCount !== null) listener(this._unreadCount);
    return () => this._countListeners.delete(listener);
  }

  /**
   * Record a count the caller read at `position` (a REST answer). It is shown
   * only if no fresher one is known. It never moves the resume position:
   * only applied stream messages do, so nothing in between is skipped.
   */
  noteCount(position, unreadCount) {
    if (typeof position !== "number" || typeof unreadCount !== "number") return;
    if (this._countPosition === null || position >= this._countPosition) {
      this._setCount(position, unreadCount);
    }
  }

  /**
   * Before the first connection, start the stream at `position` (e.g. the
   * `position` of a list the page just rendered) so the socket replays what
   * came after it. Ignored once a position is known.
   */
  seed(position) {
    if (this._position === null && typeof position === "number") this._position = position;
  }

  /** Connect and stay connected until stop(). Idempotent. */
  start() {
    this._connection.start();
    return this;
  }

  /** Close the connection and stop reconnecting. */
  stop() {
    this._connection.stop();
    this._closeChannel();
  }

  /** Reconnect at once (network back, tab visible); a live socket is probed with a ping. */
  reconnectNow() {
    this._connection.reconnectNow();
  }

  // ---- links ------------------------------------------------------------------

  async _openLink(kind, probe) {
    let token = null;
    if (this._getToken) {
      try {
        // After a 4401 (expired or refused token) ask for a new one, not a cached one.
        token = await this._getToken(this._needFreshToken && !probe ? { refresh: true } : undefined);
      } catch {
        token = null;
      }
      if (!token) return null;
    }
    if (kind === "fallback") {
      const streamUrl = this._sseUrl || new URL(STREAM_PATH, this._baseUrl || pageOrigin()).toString();
      return eventStreamLink({ EventSource: this._EventSource, fetch: this._fetch, streamUrl, token,
        since: () => this._position });
    }
    // The token travels in the first message, never in the URL (logs, proxies); by
    // cookie the upgrade carried it and the message only says where to resume. From
    // what is applied by then: a probe's replay of what the fallback delivers meanwhile
    // is dropped by the position rule.
    return webSocketLink(this._WebSocket, this._wsUrl || websocketUrlFor(this._baseUrl), () => {
      const auth = token ? { type: "auth", token } : { type: "auth" };
      if (this._position !== null) auth.since = this._position;
      return JSON.stringify(auth);
    });
  }

  /** The service ended the link with `code` (a socket's close, or the stream's `close`). */
  _closed(code, reason) {
    this._needFreshToken = code === CLOSE.auth;
    // A busy service (1013), a user over their socket cap (4429) or a draining
    // process (1012) says when to come back.
    const hint = /retry after (\d+) ms/.exec(reason || "");
    if (hint) this._connection.retryIn(Number(hint[1]));
  }

  // ---- messages ---------------------------------------------------------------

  _receive(data) {
    if (data === "pong") return;
    const message = parse(data);
    if (!message) return;
    switch (message.type) {
      case "hello":
        this._onHello(message);
        break;
      case "resync":
        this._position = message.position;
        this._setCount(message.position, message.unread_count);
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
    if (this._userId !== null && this._userId !== message.user_id) {
      // A different user: nothing of the old stream applies.
      this._position = this._countPosition = this._unreadCount = null;
      this._closeChannel();
    }
    this._userId = message.user_id;
    this._openChannel();
    this.noteCount(message.position, message.unread_count);
    if (this._position === null) {
      // Joined without replay: whoever holds a list older than this must reload it.
      this._position = message.position;
      this._emit({ type: "reset", position: message.position, unread_count: message.unread_count });
    }
    // With `since`, the replay of (since, position] follows as ordinary messages.
  }

  /** Apply one change exactly once: anything at or below the applied position is a duplicate. */
  _applyChange(message, fromStream) {
    if (typeof message.position !== "number") return;
    if (this._position !== null && message.position <= this._position) return;
    this._position = message.position;
    this.noteCount(message.position, message.unread_count);
    this._emit(message);
    if (fromStream && this._channel) {
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
      if (this._position !== null && data.message.position === this._position + 1) {
        this._applyChange(data.message, false);
      }
    };
  }

  _closeChannel() {
    if (!this._channel) return;
    this._channel.close();
    this._channel = null;
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

  _setCount(position, unreadCount) {
    const changed = this._unreadCount !== unreadCount;
    this._countPosition = position;
    this._unreadCount = unreadCount;
    if (!changed) return;
    for (const listener of [...this._countListeners]) {
      try {
        listener(unreadCount);
      } catch {
        // see _emit
      }
    }
  }

  _emitStatus() {
    const { status, transport, lastClose } = this;
    // "waiting" says why: the close that ended the last socket.
    this._emit(status === "waiting"
      ? { type: "status", status, transport, close: lastClose }
      : { type: "status", status, transport });
  }
}
