"use client"; // React Server Components: these are client components (hooks, effects)

// React bindings: a provider that starts the page's one client, the
// useNotifications() hook of the site's plan, and thin components for the
// three custom elements. Safe to import during server rendering: nothing
// touches the DOM, a socket or the network until an effect runs in the browser.
//
//   <NotificationsProvider getToken={getToken}>
//     <NotificationBadge><Avatar /></NotificationBadge>
//   </NotificationsProvider>
//
//   const { unreadCount, notifications, loading, connected,
//           fetchNotifications, markAsRead, markAllAsRead } = useNotifications();

import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";

import "../notification-badge.js";
import "../notifications-button.js";
import "../notifications-page.js";
import { configureNotifications, getDefaultClient, whenDefaultClient } from "../notifications-client.js";
import { LiveNotificationList } from "../notifications-live-list.js";

const ClientContext = createContext(null);
const nothing = () => () => {};

/**
 * Starts the page's client once (or uses `client`) and hands it to everything
 * below, hooks and elements alike. It lives as long as the page: like the
 * elements' default client it is not stopped when the provider unmounts, so a
 * remount (React's Strict Mode, a layout change) reuses it.
 * Props: the NotificationsClient options (`getToken` or `auth="cookie"`, `baseUrl`, ...) or `client`.
 */
export function NotificationsProvider({ client, children, ...options }) {
  const latest = useRef(options);
  latest.current = options;
  const [active, setActive] = useState(client ?? null);
  useEffect(() => {
    if (client) {
      setActive(client);
      return;
    }
    const { getToken } = latest.current;
    setActive(getDefaultClient() ?? configureNotifications({
      ...latest.current,
      // Always the newest function (none with auth: "cookie").
      getToken: getToken ? (opts) => latest.current.getToken(opts) : undefined,
    }));
  }, [client]);
  return createElement(ClientContext.Provider, { value: active }, children);
}

/** The client of the nearest provider, else the page's default one once there is one (null on a server). */
export function useNotificationsClient() {
  const provided = useContext(ClientContext);
  const [registered, setRegistered] = useState(null);
  useEffect(() => {
    if (provided) return undefined;
    let live = true;
    whenDefaultClient().then((client) => live && setRegistered(client));
    return () => {
      live = false;
    };
  }, [provided]);
  return provided ?? registered;
}

/** The unread count (0 until known, and on a server). */
export function useUnreadCount() {
  const client = useNotificationsClient();
  return useSyncExternalStore(
    client ? (changed) => client.onUnreadCount(changed) : nothing,
    () => client?.unreadCount ?? 0,
    () => 0,
  );
}

/** True while the stream is open (a WebSocket, or its fallback). */
export function useConnected() {
  const client = useNotificationsClient();
  return useSyncExternalStore(
    client ? (changed) => client.subscribe((event) => event.type === "status" && changed()) : nothing,
    () => client?.status === "open",
    () => false,
  );
}

/**
 * The site plan's hook: `unreadCount`, `notifications` (newest first, kept up to
 * date live), `loading`, `connected`, `fetchNotifications()` (the first page again),
 * `markAsRead(ids)`, `markAllAsRead()`; also `error`, `hasMore`, `loadMore()`.
 * Options: `limit` (page size, default 50), `unreadOnly`, `fetchOnMount` (default true).
 */
export function useNotifications({ limit = 50, unreadOnly = false, fetchOnMount = true } = {}) {
  const client = useNotificationsClient();
  const unreadCount = useUnreadCount();
  const connected = useConnected();
  const list = useRef(null);
  list.current ??= new LiveNotificationList();
  const [view, setView] = useState({ notifications: [], hasMore: false });
  const [loading, setLoading] = useState(fetchOnMount);
  const [error, setError] = useState(null);
  const loads = useRef(0);

  const show = useCallback(() => {
    const { items, nextCursor } = list.current;
    setView({ notifications: items, hasMore: nextCursor !== null });
  }, []);

  const fetchNotifications = useCallback(async () => {
    if (!client) return;
    const load = ++loads.current;
    list.current.beginLoad();
    setLoading(true);
    setError(null);
    try {
      const page = await client.listNotifications({ limit, unreadOnly });
      if (load !== loads.current) return;
      client.seed(page.position); // a client not yet on the stream joins where this page ends
      list.current.load(page);
      show();
    } catch (failure) {
      if (load === loads.current) setError(failure);
    } finally {
      if (load === loads.current) setLoading(false);
    }
  }, [client, limit, unreadOnly, show]);

  const loadMore = useCallback(async () => {
    const cursor = list.current.nextCursor;
    if (!client || cursor === null) return;
    try {
      list.current.append(await client.listNotifications({ limit, unreadOnly, cursor }));
      show();
    } catch (failure) {
      setError(failure);
    }
  }, [client, limit, unreadOnly, show]);

  useEffect(() => {
    if (!client) return undefined;
    const unsubscribe = client.subscribe((event) => {
      const changed = list.current.apply(event);
      if (changed === "reload") fetchNotifications();
      else if (changed) show();
    });
    client.start();
    if (fetchOnMount) fetchNotifications();
    return unsubscribe;
  }, [client, fetchOnMount, fetchNotifications, show]);

  const markAsRead = useCallback(async (ids) => {
    if (!client) return null;
    const wanted = Array.isArray(ids) ? ids : [ids];
    list.current.setRead(wanted);
    show();
    return client.markRead(wanted);
  }, [client, show]);

  const markAllAsRead = useCallback(async () => {
    if (!client) return null;
    // Only what this list has shown: a notification that arrives meanwhile stays unread.
    const upTo = list.current.renderedPosition;
    list.current.setRead(list.current.items.map((n) => n.id));
    show();
    return client.markAllRead(upTo ?? undefined);
  }, [client, show]);

  return { unreadCount, notifications: view.notifications, loading, connected, error,
    hasMore: view.hasMore, fetchNotifications, loadMore, markAsRead, markAllAsRead, client };
}

// The elements find the provider's client themselves: it is the page's default one.
// A `client` given here is set as the element's property (React 19 sets a custom
// element's known properties as properties).
function element(tag, { children, ...props }) {
  return createElement(tag, props, children);
}

/** `<notification-badge>`: the count over whatever it wraps (the profile button). */
export function NotificationBadge(props) {
  return element("notification-badge", props);
}

/** `<notifications-button>`: "Notifications" with the count, for the profile page (`href`). */
export function NotificationsButton(props) {
  return element("notifications-button", props);
}

/** `<notifications-page>`: the full page (attributes as in docs/WEB.md, e.g. `page-size`). */
export function NotificationsPage(props) {
  return element("notifications-page", props);
}
