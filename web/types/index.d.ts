// Types of the web client and the custom elements (pg-social-notifications).
// The REST shapes come from the service's OpenAPI document (openapi.d.ts, made by
// openapi-typescript from `notifications openapi`); the stream's messages are
// described in docs/WEBSOCKET.md.

/// <reference path="./jsx.d.ts" />
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type Notification = Schemas["Notification"];
export type NotificationPage = Schemas["NotificationPage"];
export type NotificationGroup = Schemas["NotificationGroup"];
export type GroupPage = Schemas["GroupPage"];
export type UnreadCount = Schemas["UnreadCount"];
export type MarkReadResult = Schemas["MarkReadResult"];
export type Preferences = Schemas["Preferences"];
export type PreferencesUpdate = Schemas["PreferencesUpdate"];
export type Mute = Schemas["Mute"];
export type Experiment = Schemas["Experiment"];
export type MuteList = Schemas["MuteList"];

interface AtPosition {
  position: number;
  unread_count: number;
}

/** A change at a stream position, applied exactly once, in order. */
export type ChangeMessage =
  | (AtPosition & { type: "notification"; notification: Notification })
  | (AtPosition & { type: "notification_updated"; ids: string[]; notifications: Notification[]; notification: Notification })
  | (AtPosition & { type: "notification_deleted"; ids: string[] })
  | (AtPosition & { type: "read"; ids: string[] })
  | (AtPosition & { type: "unread"; ids: string[] });

export type ConnectionStatus = "idle" | "connecting" | "open" | "waiting";
export type Transport = "websocket" | "sse";

export interface CloseInfo {
  code: number;
  reason: string;
}

/** Everything a `subscribe()` listener receives. */
export type ClientEvent =
  | ChangeMessage
  | (AtPosition & { type: "reset" })
  | (AtPosition & { type: "resync" })
  | { type: "status"; status: ConnectionStatus; transport: Transport; close?: CloseInfo | null };

export interface BackoffOptions {
  initialDelay: number;
  factor: number;
  maxDelay: number;
  connectTimeout: number;
  stableAfter: number;
  pingInterval: number;
  pongTimeout: number;
}

export interface FallbackOptions {
  after: number;
  retryWebSocket: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export type TokenSource = (opts?: { refresh?: boolean }) =>
  string | null | undefined | Promise<string | null | undefined>;

/** A token from `getToken`, or (`auth: "cookie"`) the browser's session cookie (NOTIFICATIONS_JWT_COOKIE). */
export type NotificationsAuth =
  | { auth?: "token"; getToken: TokenSource }
  | { auth: "cookie"; getToken?: undefined };

export type NotificationsClientOptions = NotificationsAuth & ClientConnectionOptions;

export interface ClientConnectionOptions {
  /** The service's origin, e.g. "https://notify.example"; default: this page's. */
  baseUrl?: string;
  wsUrl?: string;
  sseUrl?: string;
  fallback?: Partial<FallbackOptions> | false;
  backoff?: Partial<BackoffOptions>;
  WebSocket?: typeof WebSocket;
  EventSource?: typeof EventSource | null;
  fetch?: typeof fetch | null;
  timers?: Timers;
  random?: () => number;
  now?: () => number;
  window?: EventTarget | null;
  document?: Document | null;
  BroadcastChannel?: typeof BroadcastChannel | null;
}

export interface ListOptions {
  limit?: number;
  cursor?: string | null;
  unreadOnly?: boolean;
  notificationType?: "reaction" | "comment";
}

export interface MuteTarget {
  contentType: "post" | "blog_post";
  contentId: number;
  /** Mute the thread this comment is in instead of the whole post. */
  commentId?: string;
}

export declare const DEFAULTS: Readonly<BackoffOptions>;
export declare const FALLBACK_DEFAULTS: Readonly<FallbackOptions>;
export declare const CHANGE_TYPES: readonly ChangeMessage["type"][];
export declare function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number,
  elapsed?: number): number;

export declare class NotificationsApiError extends Error {
  readonly status: number;
  readonly detail: string;
}

export declare class NotificationsClient {
  constructor(options: NotificationsClientOptions);
  /** The unread count from the freshest position seen (null until known). */
  readonly unreadCount: number | null;
  /** The last stream position applied (null before the first `hello`). */
  readonly position: number | null;
  readonly status: ConnectionStatus;
  readonly transport: Transport;
  readonly lastClose: CloseInfo | null;
  readonly userId: number | null;
  subscribe(listener: (event: ClientEvent) => void): () => void;
  onUnreadCount(listener: (count: number) => void): () => void;
  noteCount(position: number, unreadCount: number): void;
  seed(position: number): void;
  start(): this;
  stop(): void;
  reconnectNow(): void;
  listNotifications(options?: ListOptions): Promise<NotificationPage>;
  listGroups(options?: { limit?: number; windowHours?: number }): Promise<GroupPage>;
  fetchUnreadCount(): Promise<UnreadCount>;
  markRead(ids: readonly string[]): Promise<MarkReadResult>;
  markAllRead(upTo?: number): Promise<MarkReadResult>;
  deleteNotification(id: string): Promise<null>;
  getPushPublicKey(): Promise<{ public_key: string }>;
  addPushSubscription(subscription: PushSubscriptionJSON): Promise<unknown>;
  removePushSubscription(endpoint: string): Promise<null>;
  getPreferences(): Promise<Preferences>;
  updatePreferences(changes: PreferencesUpdate): Promise<Preferences>;
  /** The user opened this notification from the page (insights). */
  recordOpen(id: string): Promise<null>;
  getExperiment(): Promise<Experiment>;
  listMutes(): Promise<MuteList>;
  mute(target: MuteTarget): Promise<Mute>;
  unmute(id: number): Promise<null>;
  /** POST JSON to one of the host's own endpoints with the user's credentials. */
  hostAction(url: string, body: unknown): Promise<unknown>;
}

/** Create, start and register the page's client (the one the elements use). */
export declare function configureNotifications(options: NotificationsClientOptions): NotificationsClient;
export declare function setDefaultClient(client: NotificationsClient): NotificationsClient;
export declare function getDefaultClient(): NotificationsClient | null;
export declare function whenDefaultClient(): Promise<NotificationsClient>;

declare const ElementBase: typeof HTMLElement;

export declare class NotificationBadgeElement extends ElementBase {
  client: NotificationsClient | null;
  readonly count: number | null;
}

export declare class NotificationsButtonElement extends ElementBase {
  client: NotificationsClient | null;
  readonly count: number | null;
}

export declare class NotificationsPageElement extends ElementBase {
  client: NotificationsClient | null;
  /** The stream position the page has rendered (what "Mark all as read" sends as up_to). */
  readonly renderedPosition: number;
  /** What the list shows (the list view; groups are of every kind). */
  readonly filters: { notificationType?: "reaction" | "comment"; unreadOnly: boolean };
  /** The host's quick actions; each returns a promise that rejects when the site refuses. */
  quickActions: QuickActions | null;
  reload(): Promise<void>;
}

export interface QuickActions {
  react?: (notification: Notification, emoji: string) => Promise<unknown>;
  reply?: (notification: Notification, text: string) => Promise<unknown>;
}
