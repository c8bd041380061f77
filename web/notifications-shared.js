// notifications-shared.js — what the three custom elements share: a base
// class that is safe to import during server-side rendering, how an element
// finds its client, and the theme (light and dark, overridable with CSS
// custom properties from the host page).

import { whenDefaultClient } from "./notifications-client.js";

/** HTMLElement in a browser; a plain class on a server, so importing never throws. */
export const ElementBase = typeof HTMLElement === "undefined" ? class {} : HTMLElement;

/** Define a custom element once (re-imports and hot reload are harmless). */
export function define(name, constructor) {
  if (typeof customElements !== "undefined" && !customElements.get(name)) {
    customElements.define(name, constructor);
  }
}

/** Give the element a `client` property (null: the page's default), unless one was set before it upgraded. */
export function declareClient(element) {
  if (!Object.prototype.hasOwnProperty.call(element, "client")) element.client = null;
}

/**
 * The element's client: its `client` property if the page set one,
 * otherwise the page's default client (configureNotifications()).
 */
export function clientFor(element) {
  return element.client ? Promise.resolve(element.client) : whenDefaultClient();
}

/**
 * Base of the elements that show the unread count (badge, button): follows
 * the client's count while in the document. Subclasses implement
 * `_render(count)` and read the previous value from `this._count`.
 */
export class UnreadCountElement extends ElementBase {
  constructor() {
    super();
    declareClient(this);
    this._count = null;
    this._unsubscribe = null;
    this._connected = 0; // bumps on every connect/disconnect, to drop a stale subscription
  }

  connectedCallback() {
    const connection = ++this._connected;
    clientFor(this).then((client) => {
      if (connection !== this._connected || !this.isConnected) return;
      this._unsubscribe = client.onUnreadCount((count) => this._render(count));
      client.start();
    });
  }

  disconnectedCallback() {
    this._connected++;
    if (this._unsubscribe) this._unsubscribe();
    this._unsubscribe = null;
  }

  /** The count shown (null until the client knows it). */
  get count() {
    return this._count;
  }
}

/** Attach constant CSS to a shadow root (constructable sheets avoid inline <style> where supported). */
export function adoptStyles(root, cssText) {
  if (typeof CSSStyleSheet !== "undefined" && "adoptedStyleSheets" in root) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(cssText);
      root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
      return;
    } catch {
      // fall through to a <style> element
    }
  }
  const style = document.createElement("style");
  style.textContent = cssText;
  root.append(style);
}

/**
 * Create an element with attributes and text. Text goes in with textContent,
 * never as HTML: this is the only way the elements put data on the page.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * Theme tokens. A host page can override any of them on the element, e.g.
 *   notification-badge { --notifications-accent: #e11d48; }
 */
export const THEME_CSS = `
:host {
  --_bg: var(--notifications-bg, #ffffff);
  --_fg: var(--notifications-fg, #1c1e21);
  --_muted: var(--notifications-muted, #5f6368);
  --_border: var(--notifications-border, #e3e5e8);
  --_surface: var(--notifications-surface, #f4f6f8);
  --_unread-bg: var(--notifications-unread-bg, #eaf2ff);
  --_accent: var(--notifications-accent, #1a66d9);
  --_badge-bg: var(--notifications-badge-bg, #d93025);
  --_badge-fg: var(--notifications-badge-fg, #ffffff);
  --_danger: var(--notifications-danger, #c5221f);
  --_font: var(--notifications-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
}
@media (prefers-color-scheme: dark) {
  :host {
    --_bg: var(--notifications-bg-dark, #17191c);
    --_fg: var(--notifications-fg-dark, #e8eaed);
    --_muted: var(--notifications-muted-dark, #a0a4aa);
    --_border: var(--notifications-border-dark, #33363b);
    --_surface: var(--notifications-surface-dark, #23262b);
    --_unread-bg: var(--notifications-unread-bg-dark, #1d2d47);
    --_accent: var(--notifications-accent-dark, #8ab4f8);
    --_badge-bg: var(--notifications-badge-bg-dark, #f28b82);
    --_badge-fg: var(--notifications-badge-fg-dark, #1a1a1a);
    --_danger: var(--notifications-danger-dark, #f28b82);
  }
}
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
[hidden] { display: none !important; }
`;
