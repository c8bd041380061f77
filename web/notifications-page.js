// <notifications-page> — the full notifications page:
//
//   <notifications-page page-size="20"></notifications-page>
//
// Newest first, unread highlighted, more loaded with the cursor as the user
// scrolls, a grouped view, delete, preferences, and loading / empty / error
// states. Everything from the service is put on the page with textContent.
//
// Read state, race-safely:
// - An unread item the page loaded is marked read once it has been on
//   screen (IntersectionObserver) for `mark-read-delay` ms while the tab is
//   visible — by id, with exactly the ids that were shown.
// - A notification that arrives while the page is open appears at the top
//   and stays unread (highlighted as new) until the user opens it or presses
//   "Mark all as read".
// - "Mark all as read" sends `up_to` = the position the page has rendered, so
//   anything that arrived after that stays unread.
//
// Rich items: the actor's avatar and the artwork's thumbnail (fixed sizes, lazy, a plain
// box when an image fails, http(s) only); quick actions the host supplies ("React back",
// "Reply": notifications-page-actions.js); a menu to mute the artwork, blog post or
// comment thread; filters by kind and unread, whose cursor pages on under them.
//
// Attributes: page-size (default 20), mark-read-delay (ms, default 1000;
// "off" disables automatic marking), view ("list" | "grouped"), kind ("reaction" |
// "comment") and unread-only (the filters' first state), react-action, reply-action and
// react-emojis (quick actions; or set the `quickActions` property), push-worker,
// push-page, heading.

import { describeNotification, formatOf, timeAgo } from "./notifications-format.js";
import { MAX_PAGE_SIZE } from "./notifications-protocol.js";
import { MuteList, quickActionsOf } from "./notifications-page-actions.js";
import { renderGroup, renderItem } from "./notifications-page-items.js";
import { PreferencesForm } from "./notifications-page-preferences.js";
import { ReadTracker } from "./notifications-page-reading.js";
import { PAGE_CSS } from "./notifications-page-styles.js";
import { adoptStyles, clientFor, declareClient, define, ElementBase, h } from "./notifications-shared.js";

export class NotificationsPageElement extends ElementBase {
  constructor() {
    super();
    declareClient(this);
    this._root = this.attachShadow({ mode: "open" });
    adoptStyles(this._root, PAGE_CSS);
    this._client = null;
    this._view = "list";
    this._items = new Map(); // id -> {data, el}
    this._groups = [];
    this._renderedPosition = 0; // the stream position the page has rendered
    this._cursor = null;
    this._generation = 0;
    this._buffer = null; // changes that arrive while a load is in flight
    this._liveIds = new Set(); // arrived while the page was open: left unread
    this._reading = new ReadTracker({
      delay: () => this._autoMarkDelay(),
      markable: (id) => {
        const entry = this._items.get(id);
        return !this._liveIds.has(id) && (!entry || !entry.data.is_read);
      },
      markRead: (ids) => this._client.markRead(ids),
      marked: (ids) => {
        for (const id of ids) this._setRead(id, true);
      },
    });
    this._mutes = new MuteList(() => this._client, (text) => this._mutesChanged(text));
    this._quickActions = null;
    this._format = formatOf(null); // the user's variant of the format A/B test, once known
    this._actions = null;
    this._loadingMore = false;
    this._groupsTimer = null;
    this._unsubscribe = null;
    this._connected = 0;
    this._buildSkeleton();
  }

  // ---- structure ------------------------------------------------------------

  _buildSkeleton() {
    this._listButton = h("button", { type: "button", "data-view": "list", "aria-pressed": "true", text: "All" });
    this._groupButton = h("button", {
      type: "button", "data-view": "grouped", "aria-pressed": "false", text: "Grouped",
    });
    this._markAllButton = h("button", { type: "button", class: "action mark-all", text: "Mark all as read" });
    this._kindFilter = h(
      "select",
      { class: "kind-filter", "aria-label": "Show" },
      h("option", { value: "", text: "All kinds" }),
      h("option", { value: "reaction", text: "Reactions" }),
      h("option", { value: "comment", text: "Comments" }),
    );
    this._unreadFilter = h("input", { type: "checkbox", class: "unread-filter" });
    this._filters = h(
      "div",
      { class: "filters", role: "group", "aria-label": "Filter" },
      this._kindFilter,
      h("label", {}, this._unreadFilter, "Unread only"),
    );
    const bar = h(
      "header",
      { class: "bar" },
      (this._heading = h("h2", { part: "title", text: "Notifications" })),
      h(
        "div",
        { class: "tools" },
        h("div", { class: "segmented", role: "group", "aria-label": "View" }, this._listButton, this._groupButton),
        this._filters,
        this._markAllButton,
      ),
    );
    this._notice = h("p", { class: "notice", role: "alert", hidden: true });
    this._info = h("p", { class: "info", role: "status", hidden: true });
    this._mutedList = h("ul", { class: "mutes-list", "aria-label": "Muted" });
    // In the preferences: what the user muted from the items' menus, each with Unmute.
    this._mutedSection = h(
      "section",
      { class: "mutes-section", hidden: true, "aria-label": "Muted" },
      h("p", { class: "mutes-heading", text: "Muted" }),
      this._mutedList,
    );
    this._live = h("p", { class: "sr-only", role: "status", "aria-live": "polite" });
    this._state = h("div", { class: "state", part: "state" });
    this._list = h("ol", { class: "list", "aria-label": "Notifications" });
    this._groupList = h("ol", { class: "groups", "aria-label": "Grouped notifications", hidden: true });
    this._moreButton = h("button", { type: "button", class: "action load-more", text: "Load more", hidden: true });
    this._sentinel = h("span", { class: "sentinel", "aria-hidden": "true" });
    this._more = h("div", { class: "more" }, this._moreButton, this._sentinel);
    this._prefs = new PreferencesForm(() => this._client, (name) => {
      if (name === "aggregate_same_type" && this._view === "grouped") this.reload();
    }, () => {
      const worker = this.getAttribute("push-worker");
      return worker ? { worker, page: this.getAttribute("push-page") || globalThis.location?.pathname || "/" } : null;
    });
    const page = h(
      "section",
      { class: "page", part: "page" },
      bar, this._notice, this._info, this._live, this._state, this._list, this._groupList, this._more,
      this._prefs.element,
    );
    this._prefs.element.append(this._mutedSection);
    this._root.append(page);

    this._listButton.addEventListener("click", () => this.setView("list"));
    this._groupButton.addEventListener("click", () => this.setView("grouped"));
    this._markAllButton.addEventListener("click", () => this.markAllRead());
    this._moreButton.addEventListener("click", () => this.loadMore());
    this._kindFilter.addEventListener("change", () => this.reload());
    this._unreadFilter.addEventListener("change", () => this.reload());
  }

  connectedCallback() {
    const connection = ++this._connected;
    if (this.getAttribute("view") === "grouped") this._view = "grouped";
    const kind = this.getAttribute("kind");
    if (kind === "reaction" || kind === "comment") this._kindFilter.value = kind;
    this._unreadFilter.checked = this.hasAttribute("unread-only");
    this._showView(this._view);
    this._heading.textContent = this.getAttribute("heading") || "Notifications";
    this._setState("loading");
    clientFor(this).then((client) => {
      if (connection !== this._connected || !this.isConnected) return;
      this._client = client;
      // Subscribe before the first load, so no change can fall between them.
      this._unsubscribe = client.subscribe((event) => this._onEvent(event));
      client.start();
      this._reading.start();
      this.reload();
    });
    this._clockTimer = setInterval(() => this._refreshTimes(), 60000);
  }

  disconnectedCallback() {
    this._connected++;
    this._generation++;
    if (this._unsubscribe) this._unsubscribe();
    this._unsubscribe = null;
    clearInterval(this._clockTimer);
    clearTimeout(this._groupsTimer);
    this._reading.stop();
    if (this._moreObserver) this._moreObserver.disconnect();
  }

  /** The stream position the page has rendered (what "Mark all as read" sends as up_to). */
  get renderedPosition() {
    return this._renderedPosition;
  }

  get view() {
    return this._view;
  }

  /** The host's quick actions: {react(notification, emoji), reply(notification, text)}. */
  get quickActions() {
    return this._quickActions;
  }

  set quickActions(actions) {
    this._quickActions = actions;
    if (this._client) this.reload();
  }

  /** What the list shows: {notificationType, unreadOnly} (the list view only). */
  get filters() {
    return { notificationType: this._kindFilter.value || undefined, unreadOnly: this._unreadFilter.checked };
  }

  // ---- states ------------------------------------------------------------------

  _setState(state, message) {
    this.setAttribute("state", state);
    this._state.replaceChildren();
    this._state.hidden = state === "ready";
    if (state === "loading") {
      this._state.append(
        h("div", { class: "spinner", "aria-hidden": "true" }),
        h("span", { text: "Loading notifications…" }),
      );
    } else if (state === "empty") {
      this._state.append(
        h("strong", { text: "You're all caught up" }),
        h("span", { text: "Reactions and comments on your artwork and blog posts will show up here." }),
      );
    } else if (state === "error") {
      const retry = h("button", { type: "button", class: "action retry", text: "Try again" });
      retry.addEventListener("click", () => this.reload());
      this._state.append(
        h("strong", { text: "Couldn't load notifications" }),
        h("span", { text: message || "Check your connection and try again." }),
        h("br"),
        retry,
      );
    }
    this._state.setAttribute("aria-busy", state === "loading" ? "true" : "false");
  }

  _updateEmpty() {
    const empty = this._view === "list" ? this._items.size === 0 && !this._cursor : this._groups.length === 0;
    const state = this.getAttribute("state");
    if (state === "loading" || state === "error") return;
    this._setState(empty ? "empty" : "ready");
  }

  _showNotice(text) {
    this._notice.textContent = text;
    this._notice.hidden = !text;
    clearTimeout(this._noticeTimer);
    if (text) this._noticeTimer = setTimeout(() => this._showNotice(""), 6000);
  }

  // ---- loading -----------------------------------------------------------------------

  /** Load the current view from scratch. */
  async reload() {
    if (!this._client) return;
    const generation = ++this._generation;
    this._buffer = [];
    this._setState("loading");
    this._markAllButton.disabled = true;
    this._moreButton.hidden = true;
    try {
      const [data] = await Promise.all([
        this._view === "list"
          ? this._client.listNotifications({ limit: this._pageSize(), ...this.filters })
          : this._client.listGroups({}),
        this._mutes.load(),
        this._loadFormat(),
      ]);
      if (generation !== this._generation) return;
      this._actions = quickActionsOf(this, this._client);
      this._renderMuted();
      this._reading.unwatchAll();
      this._items.clear();
      this._list.replaceChildren();
      this._groupList.replaceChildren();
      this._renderedPosition = data.position;
      // If the client has not joined the stream yet, join it where this list ends.
      this._client.seed(data.position);
      this._setState("ready");
      if (this._view === "list") {
        this._cursor = data.next_cursor;
        for (const n of data.items) this._appendItem(n);
      } else {
        this._renderGroups(data.groups);
      }
      const buffered = this._buffer;
      this._buffer = null;
      for (const event of buffered) this._onEvent(event);
      this._markAllButton.disabled = false;
      this._updateMore();
      this._updateEmpty();
      this._reading.schedule();
    } catch (error) {
      if (generation !== this._generation) return;
      this._buffer = null;
      this._setState("error", error && error.status ? `The service answered ${error.status}.` : undefined);
    }
  }

  /** Load the next page with the cursor (infinite scroll, or the "Load more" button). */
  async loadMore() {
    if (!this._client || this._view !== "list" || !this._cursor || this._loadingMore) return;
    const generation = this._generation;
    this._loadingMore = true;
    this._moreButton.disabled = true;
    try {
      const data = await this._client.listNotifications({
        limit: this._pageSize(), cursor: this._cursor, ...this.filters,
      });
      if (generation !== this._generation) return;
      this._cursor = data.next_cursor;
      // Older rows; anything that changed since arrives as a change and is applied to them.
      for (const n of data.items) if (!this._items.has(n.id)) this._appendItem(n);
    } catch {
      if (generation === this._generation) this._showNotice("Couldn't load more notifications.");
    } finally {
      this._loadingMore = false;
      this._moreButton.disabled = false;
      if (generation === this._generation) {
        this._updateMore();
        this._updateEmpty();
      }
    }
  }

  _pageSize() {
    const size = Number.parseInt(this.getAttribute("page-size") || "20", 10);
    return Number.isFinite(size) && size >= 1 && size <= MAX_PAGE_SIZE ? size : 20;
  }

  _updateMore() {
    const more = this._view === "list" && Boolean(this._cursor);
    this._moreButton.hidden = !more;
    this._more.hidden = !more;
    if (more && this._moreObserver === undefined && typeof IntersectionObserver !== "undefined") {
      this._moreObserver = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) this.loadMore();
        },
        { rootMargin: "300px 0px" },
      );
      this._moreObserver.observe(this._sentinel);
    }
  }

  /** Switch between the plain list and the grouped view. */
  setView(view) {
    if (view !== "list" && view !== "grouped") return;
    this._showView(view);
    if (view === this._view) return;
    this._view = view;
    this.setAttribute("view", view);
    this.reload();
  }

  _showView(view) {
    this._listButton.setAttribute("aria-pressed", String(view === "list"));
    this._groupButton.setAttribute("aria-pressed", String(view === "grouped"));
    this._list.hidden = view !== "list";
    this._groupList.hidden = view !== "grouped";
    this._filters.hidden = view !== "list"; // groups are of every kind
  }

  // ---- live changes ------------------------------------------------------------------

  _onEvent(event) {
    if (this._buffer !== null && event.type !== "status") {
      this._buffer.push(event);
      return;
    }
    switch (event.type) {
      case "resync":
        this.reload();
        return;
      case "reset":
        // The client joined the stream without replay, past what this page shows.
        if (event.position > this._renderedPosition) this.reload();
        return;
      case "status":
        return;
      default:
        break;
    }
    if (this.getAttribute("state") === "error") return; // "Try again" loads everything anyway
    if (typeof event.position !== "number" || event.position <= this._renderedPosition) return; // already in the list
    if (this._view === "grouped") {
      // Groups are re-read from the service; the position moves when they are rendered,
      // so "Mark all as read" never covers a change the user has not seen yet.
      if (event.type === "notification") this._liveIds.add(event.notification.id);
      this._scheduleGroupsRefresh();
      return;
    }
    this._renderedPosition = event.position;
    switch (event.type) {
      case "notification": {
        const n = event.notification;
        if (this._items.has(n.id) || !this._matches(n)) return;
        this._liveIds.add(n.id);
        this._insertItem(n);
        this._live.textContent = `New: ${this._sentence(n)}`;
        break;
      }
      case "notification_updated": {
        const entry = this._items.get(event.notification.id);
        if (entry) this._replaceItem(entry, event.notification);
        break;
      }
      case "notification_deleted":
        for (const id of event.ids) this._removeItem(id);
        break;
      case "read":
      case "unread":
        for (const id of event.ids) this._setRead(id, event.type === "read");
        break;
      default:
        break;
    }
    this._updateEmpty();
  }

  _scheduleGroupsRefresh() {
    clearTimeout(this._groupsTimer);
    this._groupsTimer = setTimeout(() => this._refreshGroups(), 250);
  }

  async _refreshGroups() {
    const generation = this._generation;
    try {
      const data = await this._client.listGroups({});
      if (generation !== this._generation || this._view !== "grouped") return;
      this._renderedPosition = Math.max(this._renderedPosition, data.position);
      this._renderGroups(data.groups);
      this._updateEmpty();
      this._reading.schedule();
    } catch {
      this._showNotice("Couldn't refresh the grouped view.");
    }
  }

  // ---- list items -----------------------------------------------------------------------

  _sentence(n) {
    const d = describeNotification(n);
    return `${d.actor} ${d.action} ${d.title}`;
  }

  /** The format the user's A/B variant names (once per page; the default on any error). */
  async _loadFormat() {
    if (this._formatLoaded) return;
    this._formatLoaded = true;
    try {
      const { variant } = await this._client.getExperiment();
      this._format = formatOf(variant);
      if (variant) this.dataset.variant = variant; // for the host's own CSS or code
    } catch {
      // the default format
    }
  }

  /** Whether a notification belongs in the list under the filters. */
  _matches(n) {
    const { notificationType, unreadOnly } = this.filters;
    return (!notificationType || n.notification_type === notificationType) && (!unreadOnly || !n.is_read);
  }

  _renderItem(n) {
    return renderItem(n, {
      opened: () => this._markOpened([n.id]),
      remove: () => this.deleteNotification(n.id),
      actions: this._actions,
      mutes: this._mutes,
      format: this._format,
    });
  }

  // ---- mutes ---------------------------------------------------------------------------------

  _mutesChanged(text) {
    this._info.textContent = text;
    this._info.hidden = !text;
    clearTimeout(this._infoTimer);
    this._infoTimer = setTimeout(() => { this._info.hidden = true; }, 8000);
    this._renderMuted();
  }

  /** The "Muted" section: each mute with an Unmute button. */
  _renderMuted() {
    const mutes = this._mutes.mutes;
    this._mutedSection.hidden = mutes.length === 0;
    this._mutedList.replaceChildren();
    for (const mute of mutes) {
      const noun = mute.content_type === "blog_post" ? "blog post" : "artwork";
      const what = `${mute.thread_id ? "A thread on " : ""}${mute.content_title ?? `your ${noun}`}`;
      const unmute = h("button", { type: "button", class: "action unmute", "aria-label": `Unmute ${what}`, text: "Unmute" });
      unmute.addEventListener("click", () => this._mutes.unmute(mute, mute.thread_id ? "the thread" : `the ${noun}`));
      this._mutedList.append(h("li", { "data-mute": mute.id }, h("span", { text: `${what} (${noun})` }), unmute));
    }
  }

  _appendItem(n) {
    const el = this._renderItem(n);
    this._items.set(n.id, { data: n, el });
    this._list.append(el);
    this._watch(el, n);
  }

  /** Insert in seq order (newest first), wherever it belongs. */
  _insertItem(n) {
    const el = this._renderItem(n);
    this._items.set(n.id, { data: n, el });
    let before = null;
    for (const child of this._list.children) {
      if (Number(child.dataset.seq) < n.seq) {
        before = child;
        break;
      }
    }
    this._list.insertBefore(el, before);
    this._watch(el, n);
  }

  _replaceItem(entry, n) {
    const el = this._renderItem({ ...n, is_read: n.is_read });
    entry.el.replaceWith(el);
    this._items.set(n.id, { data: n, el });
    this._watch(el, n);
  }

  _removeItem(id) {
    const entry = this._items.get(id);
    if (!entry) return;
    this._reading.forget(id, entry.el);
    entry.el.remove();
    this._items.delete(id);
  }

  _setRead(id, read) {
    const entry = this._items.get(id);
    if (!entry) return;
    entry.data = { ...entry.data, is_read: read };
    entry.el.classList.toggle("unread", !read);
    if (read) this._reading.forget(id);
  }

  _refreshTimes() {
    for (const time of this._root.querySelectorAll("time[datetime]")) {
      time.textContent = timeAgo(time.getAttribute("datetime"));
    }
  }

  // ---- groups ----------------------------------------------------------------------------------

  _renderGroups(groups) {
    this._groups = groups;
    this._groupList.replaceChildren();
    this._reading.unwatchAll();
    for (const g of groups) {
      const el = renderGroup(g, () => this._markOpened(g.notification_ids), this._format);
      el._group = g;
      this._groupList.append(el);
      if (g.unread > 0) this._watch(el, null);
    }
  }

  // ---- marking read -----------------------------------------------------------------------

  _autoMarkDelay() {
    const raw = this.getAttribute("mark-read-delay");
    if (raw === "off") return null;
    const delay = Number.parseInt(raw || "1000", 10);
    return Number.isFinite(delay) && delay >= 0 ? delay : 1000;
  }

  _watch(el, n) {
    this._reading.watch(el, !n || (!n.is_read && !this._liveIds.has(n.id)));
  }

  /**
   * The user opened a notification (or a group): record the open (a group's newest stands
   * for it, as in the digests) and mark exactly those read.
   */
  _markOpened(ids) {
    if (ids.length) this._client.recordOpen(ids[0]).catch(() => {});
    const unread = ids.filter((id) => {
      const entry = this._items.get(id);
      return !entry || !entry.data.is_read;
    });
    if (unread.length) this._client.markRead(unread).catch(() => {});
  }

  /** Mark everything up to the rendered position read; later arrivals stay unread. */
  async markAllRead() {
    if (!this._client) return;
    const upTo = this._renderedPosition;
    const shown = [...this._items.keys()];
    this._markAllButton.disabled = true;
    try {
      await this._client.markAllRead(upTo);
      // Every item shown came at or before the rendered position (the list leaves out
      // what the stream has not reached yet), so all of them are now read.
      for (const id of shown) if (this._items.has(id)) this._setRead(id, true);
      if (this._view === "grouped") this._scheduleGroupsRefresh();
      this._live.textContent = "All notifications marked as read";
    } catch {
      this._showNotice("Couldn't mark notifications as read. Try again.");
    } finally {
      this._markAllButton.disabled = false;
    }
  }

  /** Delete one notification (its removal also arrives as a change, which is then a no-op). */
  async deleteNotification(id) {
    try {
      await this._client.deleteNotification(id);
      this._removeItem(id);
    } catch (error) {
      if (error && error.status === 404) this._removeItem(id);
      else this._showNotice("Couldn't delete the notification. Try again.");
    }
    this._updateEmpty();
  }
}

define("notifications-page", NotificationsPageElement);
