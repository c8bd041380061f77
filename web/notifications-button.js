// <notifications-button> — a "Notifications" button with the unread count,
// for a profile page:
//
//   <notifications-button href="/notifications">Notifications</notifications-button>
//
// With `href` it is a link; without, a button (listen for `click`). The
// count shows "99+" above 99 and hides at 0; screen readers hear the label
// with the count, and changes are announced through a polite live region.

import { describeCount, formatBadgeCount, safeHref } from "./notifications-format.js";
import { adoptStyles, define, h, THEME_CSS, UnreadCountElement } from "./notifications-shared.js";

const CSS = `${THEME_CSS}
:host { display: inline-block; }
.button {
  display: inline-flex; align-items: center; gap: 8px;
  box-sizing: border-box; min-height: 40px; padding: 8px 14px;
  border: 1px solid var(--_border); border-radius: 999px;
  background: var(--_surface); color: var(--_fg);
  font: 600 14px/1.2 var(--_font); text-decoration: none; cursor: pointer;
}
.button:hover { border-color: var(--_accent); }
.button:focus-visible { outline: 3px solid var(--_accent); outline-offset: 2px; }
.icon { width: 18px; height: 18px; flex: none; fill: currentColor; }
.count {
  box-sizing: border-box; min-width: 22px; height: 22px; padding: 0 6px;
  border-radius: 11px; background: var(--_badge-bg); color: var(--_badge-fg);
  font: 700 12px/22px var(--_font); text-align: center; font-variant-numeric: tabular-nums;
}
`;

const BELL_PATH =
  "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66" +
  "A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z";

function bellIcon() {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", BELL_PATH);
  svg.append(path);
  return svg;
}

export class NotificationsButtonElement extends UnreadCountElement {
  static get observedAttributes() {
    return ["href"];
  }

  constructor() {
    super();
    this._root = this.attachShadow({ mode: "open" });
    adoptStyles(this._root, CSS);
    this._countEl = h("span", { class: "count", part: "count", "aria-hidden": "true", hidden: true });
    this._srCount = h("span", { class: "sr-only" });
    this._live = h("span", { class: "sr-only", role: "status", "aria-live": "polite" });
    this._build();
  }

  _build() {
    if (this._button) this._button.remove();
    const href = safeHref(this.getAttribute("href"));
    const label = h("span", { class: "label" }, h("slot", {}, "Notifications"));
    this._button = href
      ? h("a", { class: "button", part: "button", href })
      : h("button", { class: "button", part: "button", type: "button" });
    this._button.append(bellIcon(), label, this._countEl, this._srCount);
    this._root.append(this._button, this._live);
  }

  attributeChangedCallback() {
    if (this._button) this._build();
  }

  _render(count) {
    const previous = this._count;
    this._count = count;
    const text = formatBadgeCount(count);
    this._countEl.textContent = text;
    this._countEl.hidden = text === "";
    this._srCount.textContent = `, ${describeCount(count)}`;
    this.setAttribute("data-count", String(count));
    if (previous !== null && previous !== count) this._live.textContent = describeCount(count);
  }
}

define("notifications-button", NotificationsButtonElement);
