// notifications-elements.js — one import for everything:
//
//   import { configureNotifications } from "/web/notifications-elements.js";
//   configureNotifications({ getToken: () => myAccessToken() });
//
// defines <notification-badge>, <notifications-button> and <notifications-page>
// and re-exports the client API (docs/WEB.md).

export * from "./notifications-client.js";
export { NotificationBadgeElement } from "./notification-badge.js";
export { NotificationsButtonElement } from "./notifications-button.js";
export { NotificationsPageElement } from "./notifications-page.js";
