// notifications-page-preferences.js — the page's preferences form: the caller's switches,
// loaded when the form is opened and saved one change at a time.

import { h } from "./notifications-shared.js";

const PREFERENCES = [
  ["notify_on_post_reactions", "Reactions to my artwork"],
  ["notify_on_post_comments", "Comments on my artwork"],
  ["notify_on_blog_reactions", "Reactions to my blog posts"],
  ["notify_on_blog_comments", "Comments on my blog posts"],
  ["aggregate_same_type", "Group similar notifications"],
];

export class PreferencesForm {
  /**
   * @param {() => object | null} client the page's client, once it has one
   * @param {(name: string) => void} changed after a switch was saved
   */
  constructor(client, changed) {
    this._client = client;
    this._changed = changed;
    this._form = h("form", { class: "prefs-form" });
    this._status = h("p", { class: "prefs-status", role: "status" });
    for (const [name, label] of PREFERENCES) {
      this._form.append(
        h("label", {}, h("input", { type: "checkbox", name, disabled: true }), h("span", { text: label })),
      );
    }
    this._form.append(this._status);
    /** The element to put in the page. */
    this.element = h(
      "details",
      { class: "prefs", part: "preferences" },
      h("summary", { text: "Preferences" }),
      this._form,
    );
    this.element.addEventListener("toggle", () => {
      if (this.element.open) this._load();
    });
    this._form.addEventListener("change", (event) => this._save(event.target));
    this._form.addEventListener("submit", (event) => event.preventDefault());
  }

  async _load() {
    const client = this._client();
    if (!client) return;
    this._status.textContent = "Loading…";
    try {
      this._apply(await client.getPreferences());
      this._status.textContent = "";
    } catch {
      this._status.textContent = "Couldn't load preferences.";
    }
  }

  _apply(prefs) {
    for (const input of this._form.querySelectorAll("input[type=checkbox]")) {
      input.checked = Boolean(prefs[input.name]);
      input.disabled = false;
    }
  }

  async _save(input) {
    if (!input || input.type !== "checkbox") return;
    this._status.textContent = "Saving…";
    try {
      this._apply(await this._client().updatePreferences({ [input.name]: input.checked }));
      this._status.textContent = "Saved";
      this._changed(input.name);
    } catch {
      input.checked = !input.checked;
      this._status.textContent = "Couldn't save. Try again.";
    }
  }
}
