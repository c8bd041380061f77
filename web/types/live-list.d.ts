import type { ClientEvent, Notification, NotificationPage } from "./index";

/** A list of notifications that follows the stream, without the DOM (the React hook's). */
export declare class LiveNotificationList {
  readonly items: Notification[];
  readonly nextCursor: string | null;
  readonly renderedPosition: number | null;
  beginLoad(): void;
  load(page: Pick<NotificationPage, "items" | "next_cursor" | "position">): void;
  append(page: Pick<NotificationPage, "items" | "next_cursor">): void;
  apply(event: ClientEvent): boolean | "reload";
  setRead(ids: readonly string[], read?: boolean): void;
}
