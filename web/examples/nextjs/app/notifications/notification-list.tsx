"use client";
// The notifications page, written against the site plan's hook: unread items are
// highlighted, and each is marked read once it has been on screen for a second.
import { useCallback, useEffect, useRef } from "react";
import type { Notification } from "pg-social-notifications";
import { useNotifications } from "pg-social-notifications/react";

const SEEN_AFTER_MS = 1000;

function sentence(n: Notification): string {
  const what = n.notification_type === "reaction" ? `reacted ${n.emoji ?? ""} to` : "commented on";
  const quote = n.comment_preview ? `: “${n.comment_preview}”` : "";
  return `${n.actor_handle} ${what} ${n.content_title}${quote}`;
}

function Item({ notification, onSeen }: { notification: Notification; onSeen: (id: string) => void }) {
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    const node = ref.current;
    if (!node || notification.is_read) return undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const observer = new IntersectionObserver(([entry]) => {
      clearTimeout(timer);
      if (entry.isIntersecting) timer = setTimeout(() => onSeen(notification.id), SEEN_AFTER_MS);
    });
    observer.observe(node);
    return () => {
      clearTimeout(timer);
      observer.disconnect();
    };
  }, [notification.id, notification.is_read, onSeen]);
  return (
    <li ref={ref} className={`notification${notification.is_read ? "" : " unread"}`}
        data-id={notification.id} data-read={notification.is_read ? "yes" : "no"}>
      {notification.content_url ? <a href={notification.content_url}>{sentence(notification)}</a> : sentence(notification)}
    </li>
  );
}

export function NotificationList() {
  const { notifications, unreadCount, loading, error, markAsRead, markAllAsRead, hasMore, loadMore } =
    useNotifications({ limit: 20 });
  const onSeen = useCallback((id: string) => void markAsRead(id), [markAsRead]);
  if (error) return <p role="alert">Couldn&apos;t load notifications.</p>;
  return (
    <section aria-busy={loading}>
      <p className="summary">{unreadCount} unread</p>
      <button type="button" onClick={() => void markAllAsRead()} disabled={unreadCount === 0}>
        Mark all as read
      </button>
      {!loading && notifications.length === 0 ? <p>Nothing yet.</p> : null}
      <ul className="notifications">
        {notifications.map((n) => <Item key={n.id} notification={n} onSeen={onSeen} />)}
      </ul>
      {hasMore ? <button type="button" onClick={() => void loadMore()}>Show more</button> : null}
    </section>
  );
}
