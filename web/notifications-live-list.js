// notifications-live-list.js — a list of notifications that follows the stream,
// without the DOM: what the React bindings render (and the rules
// <notifications-page> applies to its own items).
//
// It holds the rows of the pages loaded so far, newest first, and the
// stream position they reflect (`renderedPosition`). A change at or below that
// position is already in them and is skipped; a later one is applied once.
// Changes that arrive while a page loads wait for it, and those it already
// holds are dropped. Every change makes a new array, so a renderer can compare
// by identity.

import { CHANGE_TYPES } from "./notifications-protocol.js";

const newestFirst = (a, b) => b.seq - a.seq;

export class LiveNotificationList {
  constructor() {
    this.items = [];
    this.nextCursor = null;
    this.renderedPosition = null; // null until the first page is in
    this._waiting = null; // changes that came while the first page loads
  }

  /** A first page is on its way: hold the changes that come meanwhile. */
  beginLoad() {
    this._waiting = [];
  }

  /** The first page (`{items, next_cursor, position}`), then what came while it loaded. */
  load(page) {
    this.items = [...page.items].sort(newestFirst);
    this.nextCursor = page.next_cursor ?? null;
    this.renderedPosition = page.position;
    const waiting = this._waiting ?? [];
    this._waiting = null;
    for (const event of waiting) this.apply(event);
  }

  /** A further page (by `nextCursor`): its rows go after the ones held, once each. */
  append(page) {
    const held = new Set(this.items.map((n) => n.id));
    this.items = [...this.items, ...page.items.filter((n) => !held.has(n.id))];
    this.nextCursor = page.next_cursor ?? null;
  }

  /**
   * Apply one client event. Returns "reload" when the list can no longer be
   * brought up to date by changes (`resync`, or the stream joined past it),
   * true when it changed, false when not.
   */
  apply(event) {
    if (event.type === "resync") return "reload";
    if (this._waiting !== null) {
      if (CHANGE_TYPES.includes(event.type)) this._waiting.push(event);
      return false;
    }
    if (this.renderedPosition === null) return false;
    if (event.type === "reset") return event.position > this.renderedPosition ? "reload" : false;
    if (!CHANGE_TYPES.includes(event.type)) return false;
    if (typeof event.position !== "number" || event.position <= this.renderedPosition) return false;
    this.renderedPosition = event.position;
    switch (event.type) {
      case "notification":
        if (this.items.some((n) => n.id === event.notification.id)) return false;
        this.items = [event.notification, ...this.items].sort(newestFirst);
        return true;
      case "notification_updated": {
        const edited = new Map((event.notifications ?? [event.notification]).map((n) => [n.id, n]));
        this.items = this.items.map((n) => edited.get(n.id) ?? n);
        return true;
      }
      case "notification_deleted": {
        const gone = new Set(event.ids);
        this.items = this.items.filter((n) => !gone.has(n.id));
        return true;
      }
      default: // read, unread
        this.setRead(event.ids, event.type === "read");
        return true;
    }
  }

  /** Show these rows as read (or unread) at once, before the stream confirms it. */
  setRead(ids, read = true) {
    const marked = new Set(ids);
    const at = read ? new Date().toISOString() : null;
    this.items = this.items.map((n) =>
      marked.has(n.id) && n.is_read !== read ? { ...n, is_read: read, read_at: at } : n);
  }
}
