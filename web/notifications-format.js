// notifications-format.js — pure helpers that turn API objects into short,
// plain strings. The elements put these strings in the page with
// textContent only, so whatever a user typed (a handle, a title, a comment)
// is shown as text and never parsed as HTML.

import { ANONYMOUS } from "./notifications-protocol.js";

/** The badge text: "" at 0 (hidden), "1".."99", then "99+". */
export function formatBadgeCount(count) {
  if (typeof count !== "number" || !(count > 0)) return "";
  return count > 99 ? "99+" : String(Math.floor(count));
}

/** Words for screen readers: "No unread notifications", "1 unread notification", "5 unread notifications". */
export function describeCount(count) {
  if (typeof count !== "number" || !(count > 0)) return "No unread notifications";
  return count === 1 ? "1 unread notification" : `${count} unread notifications`;
}

/**
 * A link target only if it is http(s) (absolute or relative to the page):
 * `javascript:` and `data:` URLs from host data must never become links.
 */
export function safeHref(url, base) {
  if (typeof url !== "string" || url.trim() === "") return null;
  try {
    const resolved = new URL(url, base || (globalThis.location ? globalThis.location.href : "http://localhost/"));
    return resolved.protocol === "http:" || resolved.protocol === "https:" ? resolved.href : null;
  } catch {
    return null;
  }
}

const contentNoun = (contentType) => (contentType === "blog_post" ? "blog post" : "artwork");

/**
 * One notification as parts of a sentence:
 *   {actor: "bob", action: "reacted 🔥 to your artwork", title: "Sunset", preview: null}
 *   {actor: "carol", action: "commented on your blog post", title: "Notes", preview: "Lovely!"}
 */
export function describeNotification(n) {
  const noun = contentNoun(n.content_type);
  const action =
    n.notification_type === "comment"
      ? `commented on your ${noun}`
      : `reacted${n.emoji ? ` ${n.emoji}` : ""} to your ${noun}`;
  return {
    actor: n.actor_handle || ANONYMOUS,
    action,
    title: n.content_title || "",
    preview: n.notification_type === "comment" ? n.comment_preview || "" : null,
  };
}

/**
 * The formats a notification can be shown in (an A/B test of the service's picks one per
 * user: GET /experiment, and each push says it): "sentence" ("bob reacted 🔥 to your
 * artwork Sunset", the default) or "title-first" ("Sunset — bob reacted 🔥").
 */
export const FORMATS = ["sentence", "title-first"];

/** A known format's name, else the default. */
export function formatOf(variant) {
  return FORMATS.includes(variant) ? variant : FORMATS[0];
}

/** Names for a group's actors: "bob", "bob and carol", "bob, carol and 3 others". */
export function joinActors(handles, total) {
  const names = handles.length ? handles : ["Someone"];
  const others = Math.max(0, total - names.length);
  if (others > 0) {
    return `${names.join(", ")} and ${others} ${others === 1 ? "other" : "others"}`;
  }
  if (names.length === 1) return names[0];
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/**
 * A group from GET /groups as sentence parts:
 *   {actor: "bob, carol and 3 others", action: "reacted 🔥❤️ to your artwork", title: "Sunset"}
 * (`total` counts notifications, so one person's two emoji count twice.)
 */
export function describeGroup(g) {
  const noun = contentNoun(g.content_type);
  const handles = (g.actors || []).map((a) => a.actor_handle || ANONYMOUS);
  const emojis = (g.emojis || []).join("");
  const action =
    g.notification_type === "comment"
      ? `${g.total > 1 ? "left comments" : "commented"} on your ${noun}`
      : `reacted${emojis ? ` ${emojis}` : ""} to your ${noun}`;
  return { actor: joinActors(handles, g.total || handles.length), action, title: g.content_title || "" };
}

/** "just now", "5 min ago", "3 h ago", "2 d ago", then the date. */
export function timeAgo(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 45) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} d ago`;
  return new Date(then).toISOString().slice(0, 10);
}

/** The first letter of a handle, for the avatar placeholder. */
export function initial(handle) {
  const first = [...(handle || "?").trim()][0];
  return (first || "?").toUpperCase();
}
