// Server rendering with the package's React bindings: no DOM, no socket, no network.
// Run by tests/web/test_npm_package.py after `npm ci` in web/ (it needs react).
import assert from "node:assert/strict";

import { createElement as h } from "react";
import { renderToString } from "react-dom/server";

import {
  NotificationBadge,
  NotificationsButton,
  NotificationsPage,
  NotificationsProvider,
  useNotifications,
} from "pg-social-notifications/react";

assert.equal(typeof globalThis.document, "undefined", "this must run without a DOM");
let fetched = 0;
globalThis.fetch = async () => {
  fetched++;
  throw new Error("no network while rendering on a server");
};
globalThis.WebSocket = class {
  constructor() {
    throw new Error("no socket while rendering on a server");
  }
};

function Summary() {
  const { unreadCount, notifications, loading, connected } = useNotifications();
  return h("p", { id: "summary" }, `${unreadCount} unread, ${notifications.length} shown, ` +
    `loading ${loading}, connected ${connected}`);
}

const html = renderToString(
  h(NotificationsProvider, { getToken: () => "token", baseUrl: "https://notify.example" },
    h(NotificationBadge, null, h("button", null, "Profile")),
    h(NotificationsButton, { href: "/notifications" }),
    h(NotificationsPage, { "page-size": 20 }),
    h(Summary)),
);
assert.match(html, /<notification-badge><button>Profile<\/button><\/notification-badge>/);
assert.match(html, /<notifications-button href="\/notifications"><\/notifications-button>/);
assert.match(html, /<notifications-page page-size="20"><\/notifications-page>/);
assert.match(html, /0 unread, 0 shown, loading true, connected false/);
assert.equal(fetched, 0);
console.log("server rendering: ok");
