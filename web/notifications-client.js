// notifications-client.js — the ONE object that talks to the notifications service.
//
// A NotificationsClient is the user's stream (notifications-stream.js: hello,
// resume, exactly-once changes, the tab relay) over a connection that keeps
// itself open (notifications-socket.js: backoff, ping, the Server-Sent Events
// fallback of notifications-event-stream.js and the way back), plus the REST
// calls (notifications-rest.js), whose answers feed the same unread count.
// The custom elements only subscribe to it. No DOM access at import time,
// so it loads in Node (unit tests) and during server-side rendering.
//
// Protocol: docs/WEBSOCKET.md, docs/SSE.md. Endpoints: docs/API.md. Usage: docs/WEB.md.

import { CHANGE_TYPES } from "./notifications-protocol.js";
import { NotificationsApiError, NotificationsRest } from "./notifications-rest.js";
import { NotificationStream } from "./notifications-stream.js";

export { backoffDelay, DEFAULTS, FALLBACK_DEFAULTS } from "./notifications-socket.js";
export { CHANGE_TYPES, NotificationsApiError };

export class NotificationsClient extends NotificationStream {
  /**
   * @param {object} options
   * @param {(opts?: {refresh?: boolean}) => string | Promise<string>} [options.getToken]
   *   called on every (re)connect and REST call, so a refreshed token is always used.
   * @param {"token" | "cookie"} [options.auth] "cookie": no token; the browser's session
   *   cookie authenticates every call, the socket and the stream (NOTIFICATIONS_JWT_COOKIE).
   * @param {string} [options.baseUrl] the service origin, e.g. "https://notify.example"; default: this page's.
   * @param {string} [options.wsUrl] override the WebSocket URL.
   * @param {string} [options.sseUrl] override the event stream URL (its ticket is at `${sseUrl}/ticket`).
   * @param {{after?: number, retryWebSocket?: number} | false} [options.fallback] see FALLBACK_DEFAULTS.
   * @param {object} [options.backoff] overrides of DEFAULTS.
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
    super(options);
    this._rest = new NotificationsRest({
      baseUrl: this._baseUrl,
      fetch: this._fetch,
      getToken: this._getToken,
      onCount: (position, unreadCount) => this.noteCount(position, unreadCount),
      badge: () => ({ unread_count: this._unreadCount, position: this._countPosition }),
    });
  }

  /** Connect and stay connected until stop(); the badge is fetched at once, socket or not. */
  start() {
    if (this._unreadCount === null && this.status === "idle") this.fetchUnreadCount().catch(() => {});
    return super.start();
  }

  // ---- REST (docs/API.md): notifications-rest.js; the same calls on the client ----------

  /** GET / — newest first: `{items, next_cursor, unread_count, position}`. */
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

  /** GET /push/public-key (notifications-push.js uses these three). */
  getPushPublicKey() {
    return this._rest.getPushPublicKey();
  }

  /** POST /push/subscriptions. */
  addPushSubscription(subscription) {
    return this._rest.addPushSubscription(subscription);
  }

  /** DELETE /push/subscriptions. */
  removePushSubscription(endpoint) {
    return this._rest.removePushSubscription(endpoint);
  }

  /** POST /{id}/opened: the user opened it from the page. */
  recordOpen(id) {
    return this._rest.recordOpen(id);
  }

  /** GET /experiment: `{experiment, variant}`. */
  getExperiment() {
    return this._rest.getExperiment();
  }

  /** GET /mutes. */
  listMutes() {
    return this._rest.listMutes();
  }

  /** POST /mutes: `{contentType, contentId, commentId?}`. */
  mute(target) {
    return this._rest.mute(target);
  }

  /** DELETE /mutes/{id}. */
  unmute(id) {
    return this._rest.unmute(id);
  }

  /** POST JSON to one of the host's own endpoints with the user's credentials (quick actions). */
  hostAction(url, body) {
    return this._rest.hostAction(url, body);
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
