// notifications-rest.js — the REST half of the client (docs/API.md): each call signed with
// the host's token (once more with a fresh one after a 401), errors as NotificationsApiError,
// and every answer that carries a badge handed to `onCount` so the badge follows REST too.

import { MAX_MARK_READ_IDS } from "./notifications-protocol.js";

const API_PATH = "/api/notifications";

/** An HTTP error from the service: `status` and the service's `detail`. */
export class NotificationsApiError extends Error {
  constructor(status, detail) {
    super(`notifications API ${status}: ${detail}`);
    this.name = "NotificationsApiError";
    this.status = status;
    this.detail = detail;
  }
}

export class NotificationsRest {
  /**
   * @param {object} options
   * @param {string} options.baseUrl the service's origin ("" for the page's own)
   * @param {typeof fetch | null} options.fetch
   * @param {((o?: {refresh: boolean}) => Promise<string>) | null} options.getToken the host's token;
   *   null: the browser's cookie authenticates (NOTIFICATIONS_JWT_COOKIE), sent along with every call
   * @param {(position: number, unreadCount: number) => void} options.onCount
   * @param {() => {unread_count: number, position: number}} options.badge the badge now
   */
  constructor({ baseUrl, fetch, getToken, onCount, badge }) {
    this._baseUrl = baseUrl;
    this._fetch = fetch;
    this._getToken = getToken;
    this._onCount = onCount;
    this._badge = badge;
  }

  async _request(method, path, { query, body } = {}) {
    if (!this._fetch) throw new Error("no fetch available");
    let url = `${this._baseUrl}${API_PATH}${path}`;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null) params.set(key, String(value));
      }
      const text = params.toString();
      if (text) url += `?${text}`;
    }
    for (let attempt = 0; ; attempt++) {
      const headers = {};
      if (this._getToken) {
        headers.Authorization = `Bearer ${await this._getToken(attempt ? { refresh: true } : undefined)}`;
      }
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const response = await this._fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // The cookie also on a sibling origin of the same site (the service's CORS allows it).
        credentials: this._getToken ? "same-origin" : "include",
        // A write started just before navigating away (opening a notification) still completes.
        keepalive: method !== "GET",
      });
      // Once more with a fresh token (a cookie has nothing to refresh).
      if (response.status === 401 && attempt === 0 && this._getToken) continue;
      if (!response.ok) {
        let detail = response.statusText;
        try {
          detail = (await response.json()).detail ?? detail;
        } catch {
          // not JSON
        }
        throw new NotificationsApiError(response.status, detail);
      }
      if (response.status === 204) return null;
      const data = await response.json();
      if (data && typeof data.position === "number") this._onCount(data.position, data.unread_count);
      return data;
    }
  }

  /**
   * GET / — newest first: `{items, next_cursor, unread_count, position}`. `notificationType`
   * ("reaction" | "comment") and `unreadOnly` filter; pass them again with the cursor.
   */
  listNotifications({ limit, cursor, unreadOnly, notificationType } = {}) {
    return this._request("GET", "/", {
      query: { limit, cursor, unread_only: unreadOnly ? "true" : undefined, notification_type: notificationType },
    });
  }

  /** GET /groups — the grouped view. */
  listGroups({ limit, windowHours } = {}) {
    return this._request("GET", "/groups", { query: { limit, window_hours: windowHours } });
  }

  /** GET /unread-count — `{unread_count, position}`. */
  fetchUnreadCount() {
    return this._request("GET", "/unread-count");
  }

  /** POST /mark-read with the ids the user was actually shown (batched by the API's limit). */
  async markRead(ids) {
    const unique = [...new Set(ids)];
    let result = { marked: 0, ...this._badge() };
    for (let i = 0; i < unique.length; i += MAX_MARK_READ_IDS) {
      const answer = await this._request("POST", "/mark-read", { body: unique.slice(i, i + MAX_MARK_READ_IDS) });
      result = { ...answer, marked: result.marked + answer.marked };
    }
    return result;
  }

  /** POST /mark-all-read; with `upTo`, only notifications at or below that position. */
  markAllRead(upTo) {
    return this._request("POST", "/mark-all-read", {
      body: typeof upTo === "number" ? { up_to: upTo } : undefined,
    });
  }

  /** DELETE /{id}. */
  deleteNotification(id) {
    return this._request("DELETE", `/${encodeURIComponent(id)}`);
  }

  /** GET /push/public-key — `{public_key}`, the VAPID application server key (base64url). */
  getPushPublicKey() {
    return this._request("GET", "/push/public-key");
  }

  /** POST /push/subscriptions with a PushSubscription's toJSON(). */
  addPushSubscription(subscription) {
    return this._request("POST", "/push/subscriptions", { body: subscription });
  }

  /** DELETE /push/subscriptions for this endpoint. */
  removePushSubscription(endpoint) {
    return this._request("DELETE", "/push/subscriptions", { body: { endpoint } });
  }

  /** POST /{id}/opened — the user opened this notification from the page (insights). */
  recordOpen(id) {
    return this._request("POST", `/${encodeURIComponent(id)}/opened`);
  }

  /** GET /experiment — `{experiment, variant}`: the format A/B test the user is in. */
  getExperiment() {
    return this._request("GET", "/experiment");
  }

  /** GET /mutes — `{items: [mute]}`, newest first. */
  listMutes() {
    return this._request("GET", "/mutes");
  }

  /** POST /mutes — mute a post or blog post, or with `commentId` the thread of that comment. */
  mute({ contentType, contentId, commentId }) {
    const body = { content_type: contentType, content_id: contentId };
    if (commentId) body.comment_id = commentId;
    return this._request("POST", "/mutes", { body });
  }

  /** DELETE /mutes/{id}. */
  unmute(id) {
    return this._request("DELETE", `/mutes/${encodeURIComponent(id)}`);
  }

  /**
   * POST `body` as JSON to one of the host site's own endpoints (a quick action), with the
   * user's credentials as the service gets them: the host's token, or its cookie. The
   * answer's JSON (null when there is none); NotificationsApiError with the host's detail.
   */
  async hostAction(url, body) {
    if (!this._fetch) throw new Error("no fetch available");
    const headers = { "Content-Type": "application/json" };
    if (this._getToken) headers.Authorization = `Bearer ${await this._getToken()}`;
    const response = await this._fetch(url, {
      method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      // no JSON body
    }
    if (!response.ok) {
      const detail = (data && (data.detail || data.message || data.error)) || response.statusText;
      throw new NotificationsApiError(response.status, typeof detail === "string" ? detail : response.statusText);
    }
    return data;
  }

  /** GET /preferences. */
  getPreferences() {
    return this._request("GET", "/preferences");
  }

  /** PUT /preferences with any subset of the fields; returns the full object. */
  updatePreferences(changes) {
    return this._request("PUT", "/preferences", { body: changes });
  }
}
