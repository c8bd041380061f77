// Unit tests of notifications-format.js.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  describeCount,
  describeGroup,
  describeNotification,
  formatBadgeCount,
  joinActors,
  safeHref,
  timeAgo,
} from "../notifications-format.js";

test("badge text is hidden at zero, exact up to 99, then 99+", () => {
  assert.deepEqual([0, -1, null, 1, 99, 100, 12345].map(formatBadgeCount), ["", "", "", "1", "99", "99+", "99+"]);
  assert.equal(describeCount(0), "No unread notifications");
  assert.equal(describeCount(1), "1 unread notification");
  assert.equal(describeCount(150), "150 unread notifications");
});

test("only http(s) URLs become links", () => {
  const base = "https://site.example/app/";
  assert.equal(safeHref("https://art.example/a.png", base), "https://art.example/a.png");
  assert.equal(safeHref("/blog/abc", base), "https://site.example/blog/abc");
  assert.equal(safeHref("javascript:alert(1)", base), null);
  assert.equal(safeHref(" JaVaScRiPt:alert(1)", base), null);
  assert.equal(safeHref("data:text/html,<script>", base), null);
  assert.equal(safeHref(null, base), null);
  assert.equal(safeHref("", base), null);
});

test("a notification reads as actor, action, title and preview", () => {
  const reaction = describeNotification({
    notification_type: "reaction", content_type: "post", emoji: "🔥", actor_handle: "bob", content_title: "Sunset",
  });
  assert.deepEqual(reaction, { actor: "bob", action: "reacted 🔥 to your artwork", title: "Sunset", preview: null });
  const comment = describeNotification({
    notification_type: "comment", content_type: "blog_post", actor_handle: "", content_title: "<b>x</b>",
    comment_preview: "<img src=x onerror=alert(1)>",
  });
  assert.deepEqual(comment, {
    actor: "Anonymous", action: "commented on your blog post", title: "<b>x</b>", preview: "<img src=x onerror=alert(1)>",
  });
});

test("groups name up to three actors and count the rest", () => {
  assert.equal(joinActors(["bob"], 1), "bob");
  assert.equal(joinActors(["bob", "carol"], 2), "bob and carol");
  assert.equal(joinActors(["bob", "carol", "dan"], 5), "bob, carol, dan and 2 others");
  assert.equal(joinActors(["bob"], 2), "bob and 1 other");
  const group = describeGroup({
    notification_type: "reaction", content_type: "post", content_title: "Sunset", total: 5,
    actors: [{ actor_handle: "bob" }, { actor_handle: "carol" }], emojis: ["🔥", "❤️"],
  });
  assert.deepEqual(group, { actor: "bob, carol and 3 others", action: "reacted 🔥❤️ to your artwork", title: "Sunset" });
});

test("times read as relative ages", () => {
  const now = Date.parse("2026-01-10T12:00:00Z");
  assert.equal(timeAgo("2026-01-10T11:59:50Z", now), "just now");
  assert.equal(timeAgo("2026-01-10T11:55:00Z", now), "5 min ago");
  assert.equal(timeAgo("2026-01-10T09:00:00Z", now), "3 h ago");
  assert.equal(timeAgo("2026-01-08T12:00:00Z", now), "2 d ago");
  assert.equal(timeAgo("2025-12-01T12:00:00Z", now), "2025-12-01");
  assert.equal(timeAgo("nonsense", now), "");
});
