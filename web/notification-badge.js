// <notification-badge> — overlays the unread count on the bottom-right
// corner of whatever it wraps:
//
//   <notification-badge><button class="avatar">…</button></notification-badge>
//
// "99+" above 99, hidden at 0. The number has an aria-label ("3 unread
// notifications") and every change is announced through a polite live region.
// It follows the page's client (configureNotifications) or `element.client`.

import { describeCount, formatBadgeCount } from "./notifications-format.js";
import { adoptStyles, define, THEME_CSS, UnreadCountElement } from "./notifications-shared.js";

const CSS = `${THEME_CSS}
:host { position: relative; display: inline-block; line-height: 0; vertical-align: middle; }
.slot-wrap { display: inline-block; line-height: normal; }
.badge {
  position: absolute;
  right: var(--notifications-badge-offset, -6px);
  bottom: var(--notifications-badge-offset, -6px);
  box-sizing: border-box;
  min-width: 20px; height: 20px; padding: 0 5px;
  border-radius: 10px;
  border: 2px solid var(--notifications-badge-ring, var(--_bg));
  background: var(--_badge-bg); color: var(--_badge-fg);
  font: 700 11px/16px var(--_font);
  text-align: center; white-space: nowrap;
  pointer-events: none;
  font-variant-numeric: tabular-nums;
}
.badge.bump { animation: bump 300ms ease-out; }
@keyframes bump { 0% { transform: scale(1); } 40% { transform: scale(1.35); } 100% { transform: scale(1); } }
@media (prefers-reduced-motion: reduce) { .badge.bump { animation: none; } }
`;

export class NotificationBadgeElement extends UnreadCountElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    adoptStyles(root, CSS);
    const wrap = document.createElement("span");
    wrap.className = "slot-wrap";
    wrap.append(document.createElement("slot"));
    this._badge = document.createElement("span");
    this._badge.className = "badge";
    this._badge.setAttribute("part", "badge");
    this._badge.setAttribute("role", "img");
    this._badge.hidden = true;
    this._live = document.createElement("span");
    this._live.className = "sr-only";
    this._live.setAttribute("role", "status");
    this._live.setAttribute("aria-live", "polite");
    root.append(wrap, this._badge, this._live);
  }

  _render(count) {
    const previous = this._count;
    this._count = count;
    const text = formatBadgeCount(count);
    this._badge.textContent = text;
    this._badge.hidden = text === "";
    this._badge.setAttribute("aria-label", describeCount(count));
    this.setAttribute("data-count", String(count));
    if (previous !== null && count > previous) {
      this._badge.classList.remove("bump");
      void this._badge.offsetWidth; // restart the animation
      this._badge.classList.add("bump");
    }
    // Announce changes, not the first value (that is just the page loading).
    if (previous !== null && previous !== count) this._live.textContent = describeCount(count);
  }
}

define("notification-badge", NotificationBadgeElement);
