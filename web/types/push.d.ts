// Web Push on this device (notifications-push.js); the service worker is notifications-sw.js.
import type { NotificationsClient } from "./index";

export interface PushOptions {
  /** The service worker's URL, served at the scope it should control (default "/notifications-sw.js"). */
  worker?: string;
  /** Where a click goes when a notification has no link of its own (default "/notifications"). */
  page?: string;
}

export declare function pushSupported(scope?: typeof globalThis): boolean;
/** Call from a user's click: asks permission, subscribes, tells the service. */
export declare function enablePush(client: NotificationsClient, options?: PushOptions): Promise<NotificationPermission>;
export declare function disablePush(client: NotificationsClient, options?: Pick<PushOptions, "worker">): Promise<void>;
export declare function pushEnabled(options?: Pick<PushOptions, "worker">): Promise<boolean>;
