// Unit tests of notifications-live-list.js: the list the React hook renders.
// Run with `node --test web/tests/` (pytest runs it: tests/web/test_js_unit.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { LiveNotificationList } from "../notifications-live-list.js";

const row = (seq, extra = {}) => ({ id: `n${seq}`, seq, is_read: false, read_at: null, ...extra });
const at = (type, position, extra) => ({ type, position, unread_count: 0, ...extra });

test("changes at or below the loaded position are skipped, later ones applied once, newest first", () => {
  const list = new LiveNotificationList();
  list.beginLoad();
  list.load({ items: [row(2), row(1)], next_cursor: "c1", position: 10 });
  assert.equal(list.apply(at("notification", 10, { notification: row(3) })), false, "already in the page");
  assert.equal(list.apply(at("notification", 11, { notification: row(3) })), true);
  assert.equal(list.apply(at("notification", 11, { notification: row(3) })), false, "a duplicate");
  assert.deepEqual(list.items.map((n) => n.id), ["n3", "n2", "n1"]);
  list.apply(at("read", 12, { ids: ["n2"] }));
  list.apply(at("notification_deleted", 13, { ids: ["n1"] }));
  list.apply(at("notification_updated", 14, { ids: ["n3"], notifications: [row(3, { emoji: "🎉" })] }));
  assert.deepEqual(list.items.map((n) => [n.id, n.is_read, n.emoji]),
    [["n3", false, "🎉"], ["n2", true, undefined]]);
  assert.equal(list.renderedPosition, 14);
});

test("changes that come while the first page loads wait for it; those it holds are dropped", () => {
  const list = new LiveNotificationList();
  list.beginLoad();
  assert.equal(list.apply(at("notification", 5, { notification: row(5) })), false);
  assert.equal(list.apply(at("notification", 6, { notification: row(6) })), false);
  list.load({ items: [row(5), row(4)], next_cursor: null, position: 5 });
  assert.deepEqual(list.items.map((n) => n.id), ["n6", "n5", "n4"]);
  assert.equal(list.renderedPosition, 6);
});

test("resync, or a stream joined past the list, asks for a reload; further pages append once", () => {
  const list = new LiveNotificationList();
  list.beginLoad();
  list.load({ items: [row(9), row(8)], next_cursor: "c", position: 20 });
  assert.equal(list.apply({ type: "reset", position: 20, unread_count: 0 }), false);
  assert.equal(list.apply({ type: "reset", position: 25, unread_count: 0 }), "reload");
  assert.equal(list.apply({ type: "resync", position: 30, unread_count: 0 }), "reload");
  list.append({ items: [row(8), row(7)], next_cursor: null });
  assert.deepEqual(list.items.map((n) => n.id), ["n9", "n8", "n7"]);
  assert.equal(list.nextCursor, null);
});
