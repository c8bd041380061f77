// Compiled (never run) by tests/web/test_npm_package.py: what a host's TypeScript code
// writes against the package's declarations. Each @ts-expect-error must be an error.
import { configureNotifications, NotificationsClient, type ClientEvent, type Notification } from "pg-social-notifications";
import { NotificationBadge, NotificationsButton, NotificationsPage, NotificationsProvider, useNotifications } from "pg-social-notifications/react";
import type { paths } from "pg-social-notifications/api";

const client: NotificationsClient = configureNotifications({ getToken: async () => "token" });
client.subscribe((event: ClientEvent) => {
  if (event.type === "notification") {
    const n: Notification = event.notification;
    const kind: "reaction" | "comment" = n.notification_type;
    console.log(kind, n.actor_handle, n.is_read);
  }
  if (event.type === "status") console.log(event.status, event.transport);
});

async function firstPage(): Promise<string[]> {
  const page = await client.listNotifications({ limit: 20, unreadOnly: true });
  await client.markRead(page.items.map((n) => n.id));
  // @ts-expect-error the list's rows are `items`
  console.log(page.notifications);
  return page.items.map((n) => n.id);
}
void firstPage();

// @ts-expect-error getToken is required, unless the cookie authenticates
new NotificationsClient({ baseUrl: "https://notify.example" });
new NotificationsClient({ auth: "cookie", baseUrl: "https://notify.example" });

type ListResponse = paths["/api/notifications"]["get"]["responses"]["200"]["content"]["application/json"];
const count: ListResponse["unread_count"] = 3;

function Header() {
  const { unreadCount, notifications, loading, connected, fetchNotifications, markAsRead, markAllAsRead } =
    useNotifications({ limit: 20 });
  return (
    <header>
      <NotificationBadge>
        <button onClick={() => void fetchNotifications()}>{loading ? "…" : unreadCount}</button>
      </NotificationBadge>
      <NotificationsButton href="/notifications" />
      <notification-badge><span>{connected ? "live" : "offline"}</span></notification-badge>
      <ul>{notifications.map((n) => <li key={n.id} onClick={() => void markAsRead(n.id)}>{n.content_title}</li>)}</ul>
      <button onClick={() => void markAllAsRead()}>Mark all as read</button>
      {/* @ts-expect-error view is "list" or "grouped" */}
      <notifications-page view="tiles" />
    </header>
  );
}

export function App() {
  return (
    <NotificationsProvider getToken={() => "token"} baseUrl="https://notify.example">
      <Header />
      <NotificationsPage page-size={20} view="grouped" kind="comment" reply-action="/api/comments/{comment_id}/replies"
        quickActions={{ react: async (n, emoji) => fetch(`/api/posts/${n.content_id}/react`, { method: "POST", body: emoji }) }} />
      {/* @ts-expect-error the kind filter is "reaction" or "comment" */}
      <NotificationsPage kind="follows" />
    </NotificationsProvider>
  );
}
console.log(count);

import { enablePush, pushSupported } from "pg-social-notifications/push";

export async function onPushButtonClick(): Promise<void> {
  if (!pushSupported()) return;
  const permission: NotificationPermission = await enablePush(client, { page: "/notifications" });
  console.log(permission);
}
