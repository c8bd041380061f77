// notifications-protocol.js — the service's values the browser relies on, in one place:
// its close codes (docs/WEBSOCKET.md), the messages that carry a change at a stream
// position, the API's limits, and the name of an actor without a user.
// tests/web/test_shared_values.py holds each equal to the service's own.

/** Close codes the service sends (also used for a refused stream-ticket request). */
export const CLOSE = Object.freeze({
  internal: 1011,
  restarting: 1012, // a planned restart; the reason says when to come back
  busy: 1013, // try again later; the reason says when
  protocol: 4400,
  auth: 4401, // missing, invalid or expired token: get a fresh one
  origin: 4403,
  timeout: 4408, // no auth message, or an idle socket
  tooSlow: 4409,
  tooMany: 4429, // this user has as many sockets as allowed
});

/** Message types that reflect a change at a stream position. */
export const CHANGE_TYPES = Object.freeze([
  "notification",
  "notification_updated",
  "notification_deleted",
  "read",
  "unread",
]);

/** Ids one POST /mark-read accepts. */
export const MAX_MARK_READ_IDS = 500;

/** The largest `limit` of a list page. */
export const MAX_PAGE_SIZE = 200;

/** Actors the grouped view's groups name (the service sends at most this many). */
export const ACTOR_SAMPLE = 3;

/** How a notification names an actor who has no user (an anonymous reaction or comment). */
export const ANONYMOUS = "Anonymous";
