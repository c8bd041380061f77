// JSX typings of the custom elements, for React (and Next.js) code that uses the
// tags directly: <notification-badge>, <notifications-button href>, <notifications-page>.
import type { DetailedHTMLProps, HTMLAttributes } from "react";

import type { NotificationsClient, QuickActions } from "./index";

type ElementProps<Extra> = DetailedHTMLProps<HTMLAttributes<HTMLElement>, HTMLElement> & Extra & {
  /** This element's client; default: the page's (configureNotifications, or the provider's). */
  client?: NotificationsClient;
};

export interface NotificationBadgeAttributes {}

export interface NotificationsButtonAttributes {
  /** Where the button leads: the notifications page. */
  href?: string;
}

export interface NotificationsPageAttributes {
  /** Rows per page (1–200, default 20). */
  "page-size"?: number | string;
  /** Milliseconds an unread item must be on screen before it is marked read, or "off". */
  "mark-read-delay"?: number | string;
  view?: "list" | "grouped";
  /** The heading above the list. */
  heading?: string;
  /** The service worker's URL: with it, the preferences offer push on this device. */
  "push-worker"?: string;
  /** Where a push without a link of its own opens (default: this page). */
  "push-page"?: string;
  /** The kind filter's first state. */
  kind?: "reaction" | "comment";
  /** Present: the list starts with unread only. */
  "unread-only"?: boolean | "";
  /** The host's endpoint for "React back", e.g. "/api/react-back/{notification_id}". */
  "react-action"?: string;
  /** The host's endpoint for "Reply", e.g. "/api/comments/{comment_id}/replies". */
  "reply-action"?: string;
  /** The emoji "React back" offers, space-separated (default "❤️ 🔥 👏"). */
  "react-emojis"?: string;
  /** The host's quick actions as callbacks (a property: React 19 sets it as one). */
  quickActions?: QuickActions | null;
}

declare module "react" {
  namespace JSX {
    interface IntrinsicElements {
      "notification-badge": ElementProps<NotificationBadgeAttributes>;
      "notifications-button": ElementProps<NotificationsButtonAttributes>;
      "notifications-page": ElementProps<NotificationsPageAttributes>;
    }
  }
}
