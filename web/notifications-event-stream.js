// notifications-event-stream.js — the Server-Sent Events stream as a link of
// ReconnectingSocket (docs/SSE.md), for where WebSockets are blocked.
//
// EventSource cannot send a token in a header, so each stream first gets a
// single-use ticket over REST. A refused ticket and the stream's own `close`
// event end the link with the code a socket's close would carry, so the
// client handles both transports' endings alike.

import { CLOSE } from "./notifications-protocol.js";
import { NotificationsApiError } from "./notifications-rest.js";

/**
 * A refused stream-ticket request as the socket's close (401 → 4401, 403 → 4403,
 * 429 → 4429, 503 → 1013, ...), so `lastClose` and the retry hint work alike on both.
 */
export function closeForStatus(status, detail, retryAfterSeconds) {
  const code = { 400: CLOSE.protocol, 401: CLOSE.auth, 403: CLOSE.origin, 429: CLOSE.tooMany,
    503: CLOSE.busy }[status] ?? CLOSE.internal;
  let reason = String(detail ?? "");
  const seconds = Number(retryAfterSeconds);
  if (!/retry after \d+ ms/.test(reason) && seconds > 0) reason += `; retry after ${Math.round(seconds * 1000)} ms`;
  return { code, reason };
}

async function streamTicket(fetch, streamUrl, token) {
  const response = await fetch(`${streamUrl.split("?")[0]}/ticket`, {
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

/**
 * The event stream at `streamUrl` as a link: on `start()` it gets a ticket with
 * `token`, then opens an EventSource from `since()` (read then, so it is fresh).
 * Without a token the browser's cookie authenticates the stream itself: no ticket.
 */
export function eventStreamLink({ EventSource, fetch, streamUrl, token, since }) {
  let source = null;
  let closed = false;
  const link = {
    kind: "fallback",
    raw: null,
    onmessage: null,
    onclose: null,
    send() {
      throw new Error("the event stream only receives");
    },
    close() {
      closed = true;
      if (source) {
        source.onmessage = source.onerror = null;
        source.close();
      }
    },
    async start() {
      let ticket = null;
      try {
        if (token) ticket = await streamTicket(fetch, streamUrl, token);
      } catch (error) {
        if (closed) return;
        // The service answered: the stream gets through, and its answer says what to do.
        const close = error instanceof NotificationsApiError
          ? closeForStatus(error.status, error.detail, error.retryAfter)
          : { code: 1006, reason: "" };
        link.onclose?.(close.code, close.reason);
        return;
      }
      if (closed) return;
      try {
        const url = new URL(streamUrl, globalThis.location?.href);
        if (ticket) url.searchParams.set("ticket", ticket);
        const position = since();
        if (position !== null) url.searchParams.set("since", String(position));
        source = ticket ? new EventSource(url.toString()) : new EventSource(url.toString(), { withCredentials: true });
      } catch {
        link.onclose?.(1006, "");
        return;
      }
      link.raw = source;
      source.onmessage = (event) => link.onmessage?.(event.data);
      // The stream's last event: the code and reason a socket's close would carry.
      source.addEventListener("close", (event) => {
        let info = null;
        try {
          info = JSON.parse(event.data);
        } catch {
          // not JSON
        }
        link.onclose?.(typeof info?.code === "number" ? info.code : 1006, String(info?.reason ?? ""));
      });
      // EventSource would reconnect by itself, but with its spent ticket and no backoff.
      source.onerror = () => link.onclose?.(1006, "");
    },
  };
  return link;
}
