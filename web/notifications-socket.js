// notifications-socket.js — a connection that keeps itself open, and knows nothing
// of what travels over it (partysocket is the model).
//
// ReconnectingSocket opens a *link* (one attempt's connection), waits for the
// owner's handshake to complete (the owner says which message does), and when
// the link is lost, opens another after a jittered backoff, or when the far
// end said when (`retryIn`). It pings an idle WebSocket, reconnects at once
// when the network comes back or the tab becomes visible, and falls back to a
// second kind of link (an event stream) when WebSockets never get through,
// trying the WebSocket again now and then and moving back on its handshake.
// The owner makes the links (`open`), so tokens, URLs and resume positions
// stay on its side. No DOM access at import time (Node, server rendering).

/** Backoff and liveness defaults (milliseconds), after partysocket's. */
export const DEFAULTS = Object.freeze({
  initialDelay: 1000, // first retry waits up to this long
  factor: 1.4, // each failed attempt multiplies the ceiling
  maxDelay: 30000, // the ceiling never grows past this
  connectTimeout: 4000, // open + handshake must complete within this
  stableAfter: 5000, // the attempt counter resets only after this much uptime
  pingInterval: 25000, // app-level ping (the server closes idle sockets after 75 s)
  pongTimeout: 10000, // no traffic this long after a ping: the socket is dead
});

/**
 * When to fall back to the second kind of link: after `after` WebSocket attempts in a
 * row failed to open (no upgrade, or no handshake, and no close frame from the far
 * end), and how often to try the WebSocket again while on it (jittered down to half).
 * `fallback: false` turns it off.
 */
export const FALLBACK_DEFAULTS = Object.freeze({
  after: 3,
  retryWebSocket: 180000,
});

// Closes that no close frame carried: the connection failed on the way, or never was.
const NO_CLOSE_FRAME = new Set([1005, 1006, 1015]);

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

/** Timers by name: setting one replaces it, and each clears its own slot when it fires. */
class NamedTimers {
  constructor(timers) {
    this._timers = timers;
    this._pending = new Map();
  }

  set(name, ms, fn) {
    this.clear(name);
    this._pending.set(name, this._timers.setTimeout(() => {
      this._pending.delete(name);
      fn();
    }, ms));
  }

  clear(...names) {
    for (const name of names) {
      if (!this._pending.has(name)) continue;
      this._timers.clearTimeout(this._pending.get(name));
      this._pending.delete(name);
    }
  }

  has(name) {
    return this._pending.has(name);
  }
}

/**
 * A WebSocket as a link: `greeting()` is sent first on open (read then, so it is
 * fresh). A link has `kind`, `raw` (the underlying object), `send(text)`,
 * `close(code)`, an optional `start()` (called once its handlers are set), and
 * calls `onmessage(data)` and `onclose(code, reason)`.
 */
export function webSocketLink(WebSocketClass, url, greeting) {
  const socket = new WebSocketClass(url);
  const link = {
    kind: "websocket",
    raw: socket,
    onmessage: null,
    onclose: null,
    send: (text) => socket.send(text),
    close(code = 1000) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      try {
        socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);
      } catch {
        // closing a socket that never opened may throw in some engines
      }
    },
  };
  socket.onopen = () => {
    const text = greeting?.();
    if (text) socket.send(text);
  };
  socket.onmessage = (event) => link.onmessage?.(event.data);
  socket.onerror = () => {}; // a close event always follows
  socket.onclose = (event) => link.onclose?.(event ? event.code : 1006, event ? event.reason : "");
  return link;
}

export class ReconnectingSocket {
  /**
   * @param {object} options
   * @param {(kind: "websocket" | "fallback", probe: boolean) => object | null | Promise<object | null>} options.open
   *   makes one link (null: not now, e.g. no token; try again after the backoff).
   * @param {(data: string) => boolean} options.isReady the message that completes the handshake.
   * @param {(data: string) => void} options.onmessage every message of the current link.
   * @param {(code: number, reason: string) => void} [options.onclose] a link ended by the far end
   *   (call `retryIn` from here to say when to come back).
   * @param {(state: {status: string, transport: string, close: object | null}) => void} [options.onstatus]
   * @param {{after?: number, retryWebSocket?: number} | false} [options.fallback] see FALLBACK_DEFAULTS;
   *   false, or `canFallBack()` false, stays on the WebSocket.
   * @param {() => boolean} [options.canFallBack]
   * @param {string} [options.ping] sent on an idle WebSocket every `pingInterval`.
   * @param {number} [options.timeoutCode] the close code of a link dropped for silence.
   * @param {object} [options.backoff] overrides of DEFAULTS.
   */
  constructor(options) {
    this._open = options.open;
    this._isReady = options.isReady;
    this._onmessage = options.onmessage;
    this._onclose = options.onclose || (() => {});
    this._onstatus = options.onstatus || (() => {});
    this._fallback = options.fallback === false ? null : { ...FALLBACK_DEFAULTS, ...(options.fallback || {}) };
    this._canFallBack = options.canFallBack || (() => true);
    this._ping = options.ping ?? null;
    this._timeoutCode = options.timeoutCode ?? 4000;
    this._config = { ...DEFAULTS, ...(options.backoff || {}) };
    this._timers = new NamedTimers(options.timers || realTimers);
    this._random = options.random || Math.random;
    this._now = options.now || Date.now;
    this._window = options.window === undefined ? globalThis : options.window;
    this._document = options.document === undefined ? globalThis.document || null : options.document;

    this._started = false;
    this._link = null;
    this._ready = false;
    this._generation = 0; // bumps on every new link; stale callbacks check it
    this._attempts = 0;
    this._lostAt = 0; // when the link that was healthy was lost (ms, this._now)
    this._retryAfter = null; // ms the far end asked us to wait before the next attempt
    this._status = "idle"; // idle | connecting | open | waiting
    this._lastClose = null; // {code, reason} of the last close (1006: no close frame)
    this._transport = "websocket"; // of the current (or next) link
    this._wsFailures = 0; // WebSocket attempts in a row that failed to open
    this._fallbackFailed = false; // the last fallback attempt failed before its handshake
    this._probe = null; // a WebSocket tried while on the fallback, not yet promoted
    this._probeSoon = false; // probe once the fallback is up (just switched, or a probe came due)

    this._onOnline = () => {
      // The network changed under an open fallback, which cannot be probed as a socket can: replace it.
      if (this._transport === "fallback" && this._link) this._drop(1000);
      this.reconnectNow();
    };
    this._onVisibility = () => {
      if (this._document && this._document.visibilityState === "visible") this.reconnectNow();
    };
  }

  /** "idle" | "connecting" | "open" (handshake done) | "waiting" (backing off). */
  get status() {
    return this._status;
  }

  /** "websocket", or "fallback" while on the second kind of link. */
  get transport() {
    return this._transport;
  }

  /** `{code, reason}` of the last close (1006 when no close frame came), or null. */
  get lastClose() {
    return this._lastClose;
  }

  /** The current link (its `raw` is the WebSocket or EventSource), or null. */
  get link() {
    return this._link;
  }

  /** Connect and stay connected until stop(). Idempotent. */
  start() {
    if (this._started) return this;
    this._started = true;
    this._window?.addEventListener?.("online", this._onOnline);
    this._document?.addEventListener?.("visibilitychange", this._onVisibility);
    this._connect();
    return this;
  }

  /** Close the link and stop reconnecting. */
  stop() {
    this._started = false;
    this._window?.removeEventListener?.("online", this._onOnline);
    this._document?.removeEventListener?.("visibilitychange", this._onVisibility);
    this._timers.clear("reconnect", "probe");
    this._endProbe();
    this._drop(1000);
    this._setStatus("idle");
  }

  /** Reconnect at once (network back, tab visible); a live WebSocket is probed with a ping. */
  reconnectNow() {
    if (!this._started) return;
    if (this._link) {
      if (this._status === "open" && this._link.kind === "websocket") this._sendPing();
      return;
    }
    this._timers.clear("reconnect");
    this._connect();
  }

  /** The far end said when to come back: the next attempt waits that long, not the backoff. */
  retryIn(ms) {
    this._retryAfter = Math.min(ms, this._config.maxDelay * 4);
  }

  /** Send on the current link; false when there is none. */
  send(text) {
    if (!this._link) return false;
    this._link.send(text);
    return true;
  }

  async _connect() {
    if (!this._started || this._link) return;
    const generation = ++this._generation;
    this._setTransport(this._nextTransport());
    this._setStatus("connecting");
    const kind = this._transport;
    let link;
    try {
      link = await this._open(kind, false);
    } catch {
      link = null;
    }
    if (generation !== this._generation || !this._started) {
      link?.close(1000);
      return;
    }
    if (!link) {
      this._scheduleReconnect();
      return;
    }
    this._link = link;
    this._ready = false;
    this._timers.set("connect", this._config.connectTimeout, () => {
      if (this._link !== link) return;
      if (kind === "websocket") this._wsFailures++; // opened or not, no handshake: as good as blocked
      else this._fallbackFailed = true;
      this._lose(this._timeoutCode);
    });
    this._wire(link);
    link.start?.(); // a link that does its own async work first waits for its handlers
  }

  /** The handlers of the current link (also of a probe, once promoted). */
  _wire(link) {
    link.onmessage = (data) => {
      if (this._link === link) this._receive(data);
    };
    link.onclose = (code, reason) => {
      if (this._link !== link) return;
      if (!this._ready) {
        // Closed before the handshake: by the far end (a close frame: it got through),
        // or on the way there.
        const through = !NO_CLOSE_FRAME.has(code);
        if (link.kind === "websocket") this._wsFailures = through ? 0 : this._wsFailures + 1;
        else if (!through) this._fallbackFailed = true;
      }
      this._lastClose = { code, reason };
      this._onclose(code, reason);
      this._lose();
    };
  }

  _receive(data) {
    this._timers.clear("pong"); // any traffic proves the link is alive
    if (!this._ready && this._isReady(data)) this._becomeReady();
    this._onmessage(data);
  }

  _becomeReady() {
    this._ready = true;
    this._timers.clear("connect");
    this._setStatus("open");
    // Only a link that stayed up a while proves the far end is healthy.
    this._timers.set("stable", this._config.stableAfter, () => {
      this._attempts = 0;
    });
    if (this._transport === "websocket") {
      this._wsFailures = 0;
      this._schedulePing();
    } else {
      this._fallbackFailed = false;
      if (this._probeSoon) {
        this._probeSoon = false;
        this._scheduleProbe(this._config.stableAfter);
      } else if (!this._timers.has("probe") && !this._probe) {
        this._scheduleProbe();
      }
    }
  }

  // ---- the fallback ---------------------------------------------------------------

  _fallbackAllowed() {
    return Boolean(this._fallback && this._canFallBack());
  }

  _nextTransport() {
    if (!this._fallbackAllowed()) return "websocket";
    if (this._transport === "fallback" && !this._fallbackFailed) return "fallback";
    // A fallback that could not get through either: the far end may be down, not the
    // socket blocked, so try the socket again (it tells the two apart).
    const fallBack = this._transport === "websocket" && this._wsFailures >= this._fallback.after;
    this._fallbackFailed = false;
    return fallBack ? "fallback" : "websocket";
  }

  _setTransport(transport) {
    if (this._transport === transport) return;
    this._transport = transport;
    if (transport === "fallback") this._probeSoon = true; // the socket may be back already
    else this._timers.clear("probe");
    this._emitStatus();
  }

  /** Every so often while on the fallback, try the socket; on its handshake it takes over. */
  _scheduleProbe(ms) {
    const delay = ms ?? Math.floor(this._fallback.retryWebSocket * (0.5 + 0.5 * this._random()));
    this._timers.set("probe", delay, () => {
      if (this._transport !== "fallback" || !this._started) return;
      if (this._link && this._status === "open") this._probeWebSocket();
      else this._probeSoon = true; // when the fallback is up again
    });
  }

  async _probeWebSocket() {
    if (this._probe) return;
    const probe = { link: null };
    this._probe = probe;
    let link;
    try {
      link = await this._open("websocket", true);
    } catch {
      link = null;
    }
    if (this._probe !== probe) {
      link?.close(1000);
      return;
    }
    if (!link) {
      this._endProbe(true);
      return;
    }
    probe.link = link;
    this._timers.set("probeConnect", this._config.connectTimeout, () => {
      if (this._probe === probe) this._endProbe(true);
    });
    link.onclose = () => {
      if (this._probe === probe) this._endProbe(true);
    };
    link.onmessage = (data) => {
      if (this._probe === probe && this._isReady(data)) this._promote(link, data);
    };
  }

  /** Stop probing; `again`: try once more later. */
  _endProbe(again = false) {
    const probe = this._probe;
    this._probe = null;
    this._timers.clear("probeConnect");
    probe?.link?.close(1000);
    if (again && this._started && this._transport === "fallback") this._scheduleProbe();
  }

  /** The probe completed its handshake: it becomes the link and the fallback is closed. */
  _promote(link, handshake) {
    this._probe = null;
    this._timers.clear("probeConnect", "reconnect");
    this._drop(1000);
    this._wsFailures = 0;
    this._setTransport("websocket");
    this._link = link;
    this._ready = false;
    this._wire(link);
    this._receive(handshake);
  }

  // ---- losing and keeping a link ---------------------------------------------------------

  /** The link is gone (closed, timed out, dead): clean up and back off. */
  _lose(code) {
    this._drop(code);
    if (this._started) this._scheduleReconnect();
  }

  _drop(code = 1000) {
    this._timers.clear("connect", "stable", "ping", "pong");
    const link = this._link;
    this._link = null;
    this._ready = false;
    this._generation++;
    if (link) {
      link.onmessage = link.onclose = null;
      link.close(code);
    }
  }

  _scheduleReconnect() {
    // When the far end said when, then (its hint is its own schedule, already
    // jittered: a busy process's turn, a draining one's spread); else the backoff.
    if (this._attempts === 0) this._lostAt = this._now();
    const delay = this._retryAfter ??
      backoffDelay(this._attempts, this._config, this._random, this._now() - this._lostAt);
    this._retryAfter = null;
    this._attempts += 1;
    this._setStatus("waiting");
    this._timers.set("reconnect", delay, () => this._connect());
  }

  _sendPing() {
    if (!this._link || this._status !== "open" || this._ping === null) return;
    try {
      this._link.send(this._ping);
    } catch {
      this._lose();
      return;
    }
    if (!this._timers.has("pong")) {
      this._timers.set("pong", this._config.pongTimeout, () => this._lose(this._timeoutCode));
    }
  }

  _schedulePing() {
    if (this._ping === null) return;
    this._timers.set("ping", this._config.pingInterval, () => {
      this._sendPing();
      this._schedulePing();
    });
  }

  _setStatus(status) {
    if (this._status === status) return;
    this._status = status;
    this._emitStatus();
  }

  _emitStatus() {
    // "waiting" says why: the close that ended the last link.
    this._onstatus({ status: this._status, transport: this._transport,
      close: this._status === "waiting" ? this._lastClose : null });
  }
}
