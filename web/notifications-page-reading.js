// notifications-page-reading.js — the page's read tracking: which shown notifications the
// user has seen (at least half visible, in a visible tab), marked read together after
// `delay` ms. It knows nothing of how the page renders: the page says which ids may be
// marked and what to call.

export class ReadTracker {
  /**
   * @param {object} page
   * @param {() => number | null} page.delay ms to wait before marking seen items (null: never)
   * @param {(id: string) => boolean} page.markable unread, and not a live arrival (those stay unread)
   * @param {(ids: string[]) => Promise<unknown>} page.markRead the client's mark-read
   * @param {(ids: string[]) => void} page.marked after the service marked them
   */
  constructor({ delay, markable, markRead, marked }) {
    this._delay = delay;
    this._markable = markable;
    this._markRead = markRead;
    this._marked = marked;
    this._seen = new Set(); // shown and waiting to be marked read
    this._timer = null;
    this._observer = null;
    this._onVisible = () => this.schedule();
  }

  start() {
    if (typeof IntersectionObserver !== "undefined" && !this._observer) {
      this._observer = new IntersectionObserver(
        (entries) => {
          for (const entry of entries) {
            if (!entry.isIntersecting) continue;
            this._noteSeen(entry.target);
            this._observer.unobserve(entry.target);
          }
          this.schedule();
        },
        { threshold: 0.5 },
      );
    }
    document.addEventListener("visibilitychange", this._onVisible);
  }

  stop() {
    clearTimeout(this._timer);
    this._timer = null;
    if (this._observer) this._observer.disconnect();
    this._observer = null;
    document.removeEventListener("visibilitychange", this._onVisible);
  }

  /** Follow an item's element (`el.dataset.id`, or `el._group.notification_ids`). */
  watch(el, unread) {
    if (!unread) return;
    if (this._observer) this._observer.observe(el);
    else this._noteSeen(el);
  }

  /** The page re-renders: stop following every element (the observer stays usable). */
  unwatchAll() {
    if (this._observer) this._observer.disconnect();
  }

  /** The item is gone, or read another way: nothing to mark. */
  forget(id, el) {
    if (el && this._observer) this._observer.unobserve(el);
    this._seen.delete(id);
  }

  _noteSeen(el) {
    const ids = el._group ? el._group.notification_ids : [el.dataset.id];
    for (const id of ids) if (this._markable(id)) this._seen.add(id);
  }

  schedule() {
    const delay = this._delay();
    if (delay === null || this._seen.size === 0 || this._timer) return;
    this._timer = setTimeout(() => {
      this._timer = null;
      if (document.visibilityState !== "visible") return; // again when the tab is visible
      this._flush();
    }, delay);
  }

  async _flush() {
    const ids = [...this._seen];
    this._seen.clear();
    if (!ids.length) return;
    try {
      await this._markRead(ids);
      this._marked(ids);
    } catch {
      for (const id of ids) this._seen.add(id);
      this.schedule();
    }
  }
}
