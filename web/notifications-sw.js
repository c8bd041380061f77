// notifications-sw.js — the service worker that shows Web Push notifications
// (CONTRACT.md §6: the decrypted body is {"type": "notification", "notification": {...}},
// the same fields as the REST list) and opens the right page on a click.
//
// Register it as a module, at the scope of the pages it should open or focus:
//   navigator.serviceWorker.register("/notifications-sw.js?page=/notifications", { type: "module" })
// (`page`: where a click goes when the notification has no http(s) link of its own; `api`:
// the service's base URL when it is not this origin;
// enablePush() in notifications-push.js does this). Text only: a notification's title
// and body are plain strings, and only http(s) URLs become its icon or its link.

import { describeNotification, formatOf, safeHref } from "./notifications-format.js";

const params = new URL(self.location.href).searchParams;
const NOTIFICATIONS_PAGE = safeHref(params.get("page") || "/", self.registration.scope) || self.registration.scope;
// Where the service's API is (`api`: its base URL; default this origin, as behind one proxy).
const API_BASE = safeHref(params.get("api") || "/", self.location.href) || new URL("/", self.location.href).href;

/**
 * What a push shows: title, text, icon (the actor), image (the artwork), a tag per content
 * item (repeats replace each other), the link, and the token that reports its opening. In
 * the "title-first" format (the user's A/B variant) the work's title leads.
 */
export function notificationDisplay(n, { variant, openToken } = {}) {
  const parts = describeNotification(n);
  const sentence = `${parts.actor} ${parts.action}`;
  const titleFirst = formatOf(variant) === "title-first";
  const detail = parts.preview ? `${parts.title}: “${parts.preview}”` : parts.title;
  return {
    title: titleFirst ? parts.title || sentence : sentence,
    options: {
      body: titleFirst ? (parts.preview ? `${sentence}: “${parts.preview}”` : sentence) : detail,
      icon: safeHref(n.actor_avatar_url, self.registration.scope) ?? undefined,
      // The artwork itself, where the browser shows a large image (Chromium on desktop).
      image: n.content_image_url ? safeHref(n.content_image_url, self.registration.scope) ?? undefined : undefined,
      tag: `${n.content_type}-${n.content_id}`,
      timestamp: Date.parse(n.created_at) || Date.now(),
      data: { id: n.id, url: safeHref(n.content_url, self.registration.scope) ?? NOTIFICATIONS_PAGE,
              openToken: typeof openToken === "string" ? openToken : null },
    },
  };
}

self.addEventListener("push", (event) => {
  let message = null;
  try {
    message = event.data?.json() ?? null;
  } catch {
    return; // not ours
  }
  if (message?.type !== "notification" || !message.notification) return;
  const { title, options } = notificationDisplay(message.notification,
    { variant: message.variant, openToken: message.open_token });
  event.waitUntil(self.registration.showNotification(title, options));
});

/** Tell the service this push was opened (insights): its token is the credential. */
async function reportOpen(token) {
  if (!token) return;
  try {
    await fetch(new URL("api/notifications/opened", API_BASE), {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }),
      credentials: "omit", keepalive: true,
    });
  } catch {
    // offline: the open is not counted, nothing else changes
  }
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url ?? NOTIFICATIONS_PAGE;
  event.waitUntil(reportOpen(event.notification.data?.openToken));
  event.waitUntil((async () => {
    // A tab already on that page is focused; otherwise one is opened.
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url === url);
    if (open) return open.focus();
    return self.clients.openWindow(url);
  })());
});
