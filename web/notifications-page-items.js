// notifications-page-items.js — how the page draws one notification and one group: plain
// elements, text set with textContent only (whatever a user typed stays text), links only
// to safe URLs. The page keeps the elements in order and reacts to clicks through `opened`
// and `remove`.

import { describeGroup, describeNotification, initial, safeHref, timeAgo } from "./notifications-format.js";
import { ACTOR_SAMPLE } from "./notifications-protocol.js";
import { renderItemMenu, renderQuickActions } from "./notifications-page-actions.js";
import { h } from "./notifications-shared.js";

function avatar(handle, url) {
  const element = h("span", { class: "avatar", "aria-hidden": "true" });
  const src = safeHref(url);
  if (src) {
    const img = h("img", { alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
    img.src = src;
    img.addEventListener("error", () => img.replaceWith(initial(handle)));
    element.append(img);
  } else {
    element.textContent = initial(handle);
  }
  return element;
}

/**
 * The artwork's thumbnail, a link to it like the title (only an http(s) image): a fixed
 * 56 px box, loaded lazily, so nothing moves when it arrives; a plain box if it fails.
 * Decorative for screen readers (the title link says the same), and out of the tab order.
 */
function thumbnail(n, opened) {
  const src = safeHref(n.content_image_url);
  if (!src) return null;
  const img = h("img", { alt: "", width: "56", height: "56", loading: "lazy", decoding: "async", referrerpolicy: "no-referrer" });
  img.src = src;
  const href = safeHref(n.content_url);
  const box = href
    ? h("a", { class: "thumb", href, tabindex: "-1", "aria-hidden": "true" }, img)
    : h("span", { class: "thumb", "aria-hidden": "true" }, img);
  if (href) box.addEventListener("click", opened);
  img.addEventListener("error", () => {
    img.remove();
    box.classList.add("failed");
  });
  return box;
}

function titleLink(title, url, opened) {
  const href = safeHref(url);
  if (!href) return h("span", { class: "title", text: title });
  const link = h("a", { class: "title", href, text: title });
  link.addEventListener("click", opened);
  return link;
}

/**
 * "bob reacted 🔥 to your artwork Sunset", the title a link when its URL is safe; in the
 * "title-first" format, "Sunset — bob reacted 🔥 to your artwork".
 */
function sentence(d, url, opened, format) {
  const actor = h("span", { class: "actor", text: d.actor });
  const what = h("span", { class: "what", text: d.action });
  const title = titleLink(d.title, url, opened);
  if (format === "title-first") return h("p", { class: "text title-first" }, title, " — ", actor, " ", what);
  return h("p", { class: "text" }, actor, " ", what, " ", title);
}

/**
 * One notification's list item; `opened` when its link is followed, `remove` on delete;
 * with `actions` (quickActionsOf) its quick actions, with `mutes` (MuteList) its menu.
 */
export function renderItem(n, { opened, remove, actions, mutes, format }) {
  const d = describeNotification(n);
  const el = h("li", {
    class: n.is_read ? "item" : "item unread",
    "data-id": n.id,
    "data-seq": n.seq,
    part: "item",
  });
  const body = h("div", { class: "body" }, sentence(d, n.content_url, opened, format));
  if (d.preview !== null) body.append(h("p", { class: "preview", text: d.preview }));
  body.append(
    h(
      "p",
      { class: "meta" },
      h("time", { datetime: n.created_at, text: timeAgo(n.created_at) }),
      h("span", { class: "tag", text: "Unread" }),
    ),
  );
  if (actions) {
    const quick = renderQuickActions(n, actions);
    if (quick) body.append(quick);
  }
  const deleteButton = h("button", { type: "button", class: "delete", "aria-label": "Delete notification", text: "×" });
  deleteButton.addEventListener("click", remove);
  el.append(avatar(d.actor, n.actor_avatar_url), body);
  const thumb = thumbnail(n, opened);
  if (thumb) el.append(thumb);
  if (mutes) el.append(renderItemMenu(n, mutes));
  el.append(deleteButton);
  return el;
}

/** One group's list item ("bob and 3 others reacted to your artwork"); `opened` on its link. */
export function renderGroup(g, opened, format) {
  const d = describeGroup(g);
  const el = h("li", {
    class: g.unread > 0 ? "item group unread" : "item group",
    "data-key": `${g.notification_type}:${g.content_type}:${g.content_id}:${g.latest_seq}`,
    part: "group",
  });
  const avatars = h("span", { class: "avatars", "aria-hidden": "true" });
  for (const actor of (g.actors || []).slice(0, ACTOR_SAMPLE)) avatars.append(avatar(actor.actor_handle, null));
  const body = h(
    "div",
    { class: "body" },
    sentence(d, g.content_url, opened, format),
    h(
      "p",
      { class: "meta" },
      h("time", { datetime: g.latest_at, text: timeAgo(g.latest_at) }),
      h("span", { class: "tag", text: `${g.unread} unread` }),
    ),
  );
  el.append(avatars, body, h("span", { class: "total", title: "Notifications in this group", text: String(g.total) }));
  return el;
}
