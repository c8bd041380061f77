// Test doubles for the client: a manual clock, a scripted WebSocket and EventSource,
// a BroadcastChannel bus.

export class FakeClock {
  constructor() {
    this.now = 0;
    this.nextId = 1;
    this.pending = new Map(); // id -> {at, fn}
  }

  setTimeout = (fn, ms) => {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  };

  clearTimeout = (id) => {
    this.pending.delete(id);
  };

  /** Move time forward, running every timer that falls due, in order. */
  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, timer] of this.pending) {
        if (timer.at <= until && (next === null || timer.at < next.at)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === null) break;
      this.pending.delete(nextId);
      this.now = next.at;
      next.fn();
    }
    this.now = until;
  }

  /** Delays of the timers still pending, relative to now. */
  delays() {
    return [...this.pending.values()].map((t) => t.at - this.now);
  }
}

/** Resolves after pending promise callbacks (token fetches, etc.) have run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A WebSocket class that records every instance; tests drive them by hand. */
export function fakeWebSocketClass() {
  const sockets = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.closed = null;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
    }

    send(data) {
      this.sent.push(data);
    }

    close(code = 1000) {
      this.closed = code;
    }

    // --- driven by the test ---
    open() {
      this.onopen?.({});
    }

    receive(message) {
      this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
    }

    serverClose(code = 1006, reason = "") {
      this.closed = code;
      this.onclose?.({ code, reason });
    }

    sentJson() {
      return this.sent.map((s) => JSON.parse(s));
    }
  }
  return { FakeWebSocket, sockets };
}

/** An EventSource class that records every instance; tests drive them by hand. */
export function fakeEventSourceClass() {
  const sources = [];
  class FakeEventSource {
    constructor(url, init = {}) {
      this.url = url;
      this.withCredentials = Boolean(init.withCredentials);
      this.closed = false;
      this.onopen = this.onmessage = this.onerror = null;
      this.listeners = new Map();
      sources.push(this);
    }

    addEventListener(name, fn) {
      if (!this.listeners.has(name)) this.listeners.set(name, new Set());
      this.listeners.get(name).add(fn);
    }

    close() {
      this.closed = true;
    }

    get params() {
      return Object.fromEntries(new URL(this.url).searchParams);
    }

    // --- driven by the test (a closed source dispatches nothing, as a browser's) ---
    receive(message) {
      if (!this.closed) this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
    }

    /** The service's last event, then the end of the response (EventSource reports an error). */
    serverClose(code, reason = "") {
      if (this.closed) return;
      for (const fn of this.listeners.get("close") ?? []) fn({ data: JSON.stringify({ code, reason }) });
      this.error();
    }

    error() {
      if (!this.closed) this.onerror?.({});
    }
  }
  return { FakeEventSource, sources };
}

/**
 * A fetch that answers stream-ticket requests (`answers` in order: [status, body, retryAfter],
 * then tickets t-1, t-2, ...) and any other request with a zero count.
 */
export function ticketFetch(answers = []) {
  const calls = [];
  let issued = 0;
  const fetch = async (url, init = {}) => {
    calls.push({ url, ...init });
    let status = 200;
    let body = { unread_count: 0, position: 0 };
    let retryAfter = null;
    if (url.endsWith("/stream/ticket")) {
      if (answers.length) [status, body, retryAfter] = answers.shift();
      else body = { ticket: `t-${++issued}`, expires_in: 30 };
      if (body === "network") throw new TypeError("Failed to fetch");
    }
    return {
      ok: status >= 200 && status < 300,
      status,
      statusText: "status",
      headers: { get: (name) => (name.toLowerCase() === "retry-after" ? retryAfter : null) },
      json: async () => body,
    };
  };
  return { fetch, calls, tickets: () => calls.filter((c) => c.url.endsWith("/stream/ticket")) };
}

/** BroadcastChannel instances that deliver to each other synchronously. */
export function fakeBroadcastChannelClass() {
  const channels = [];
  class FakeBroadcastChannel {
    constructor(name) {
      this.name = name;
      this.onmessage = null;
      channels.push(this);
    }

    postMessage(data) {
      for (const other of channels) {
        if (other !== this && other.name === this.name) other.onmessage?.({ data: structuredClone(data) });
      }
    }

    close() {
      channels.splice(channels.indexOf(this), 1);
    }
  }
  return { FakeBroadcastChannel, channels };
}

/** A minimal EventTarget with dispatch by name, standing in for window / document. */
export class FakeTarget {
  constructor() {
    this.listeners = new Map();
    this.visibilityState = "visible";
  }

  addEventListener(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
  }

  removeEventListener(name, fn) {
    this.listeners.get(name)?.delete(fn);
  }

  fire(name) {
    for (const fn of this.listeners.get(name) ?? []) fn({ type: name });
  }
}
