// React bindings: the provider, the site plan's useNotifications() hook and thin
// components for the custom elements.
/// <reference path="./jsx.d.ts" />
import type { ReactElement, ReactNode } from "react";

import type { NotificationsButtonAttributes, NotificationsPageAttributes } from "./jsx";
import type { MarkReadResult, Notification, NotificationsClient, NotificationsClientOptions } from "./index";

export type NotificationsProviderProps =
  | ({ client?: undefined; children?: ReactNode } & NotificationsClientOptions)
  | { client: NotificationsClient; children?: ReactNode };

export declare function NotificationsProvider(props: NotificationsProviderProps): ReactElement;
export declare function useNotificationsClient(): NotificationsClient | null;
export declare function useUnreadCount(): number;
export declare function useConnected(): boolean;

export interface UseNotificationsOptions {
  /** Page size (default 50). */
  limit?: number;
  unreadOnly?: boolean;
  /** Load the first page when mounted (default true). */
  fetchOnMount?: boolean;
}

export interface UseNotifications {
  unreadCount: number;
  /** Newest first, kept up to date live. */
  notifications: Notification[];
  loading: boolean;
  connected: boolean;
  error: unknown;
  hasMore: boolean;
  fetchNotifications(): Promise<void>;
  loadMore(): Promise<void>;
  markAsRead(ids: string | readonly string[]): Promise<MarkReadResult | null>;
  markAllAsRead(): Promise<MarkReadResult | null>;
  client: NotificationsClient | null;
}

export declare function useNotifications(options?: UseNotificationsOptions): UseNotifications;

interface ElementComponentProps {
  children?: ReactNode;
  className?: string;
  id?: string;
  style?: Record<string, string | number>;
}

export declare function NotificationBadge(props: ElementComponentProps): ReactElement;
export declare function NotificationsButton(props: ElementComponentProps & NotificationsButtonAttributes): ReactElement;
export declare function NotificationsPage(props: ElementComponentProps & NotificationsPageAttributes): ReactElement;
