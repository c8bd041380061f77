// notifications-page-preferences.js — the page's preferences form: the caller's switches,
// loaded when the form is opened and saved one change at a time.

import { h } from "./notifications-shared.js";

const KINDS = [
  ["post_reactions", "Reactions to my artwork"],
  ["post_comments", "Comments on my artwork"],
  ["blog_reactions", "Reactions to my blog posts"],
  ["blog_comments", "Comments on my blog posts"],
];
// What each kind may do: exist at all (in the app), and go out as a push or by email.
const GROUPS = [
  ["Notify me about", "notify_on"],
  ["Also as a push on my devices", "push_on"],
  ["Also in the email digest", "email_on"],
];
const DIGEST_SCHEDULES = [["daily", "Daily"], ["weekly", "Weekly"], ["off", "Never"]];

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
    const toggle = (name, label) =>
      h("label", {}, h("input", { type: "checkbox", name, disabled: true }), h("span", { text: label }));
    for (const [legend, prefix] of GROUPS) {
      this._form.append(h("fieldset", {}, h("legend", { text: legend }),
        ...KINDS.map(([kind, label]) => toggle(`${prefix}_${kind}`, label))));
    }
    this._form.append(toggle("aggregate_same_type", "Group similar notifications"));
    const schedule = h("select", { name: "digest_schedule", disabled: true },
      ...DIGEST_SCHEDULES.map(([value, label]) => h("option", { value, text: label })));
    this._form.append(h("label", {}, h("span", { text: "Email digest " }), schedule), this._status);
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
    this._saved = prefs;
    for (const input of this._form.querySelectorAll("input[type=checkbox]")) {
      input.checked = Boolean(prefs[input.name]);
      input.disabled = false;
    }
    const schedule = this._form.querySelector("select[name=digest_schedule]");
    if (typeof prefs.digest_schedule === "string") schedule.value = prefs.digest_schedule;
    schedule.disabled = false;
  }

  async _save(input) {
    if (!input || !input.name) return;
    const value = input.type === "checkbox" ? input.checked : input.value;
    this._status.textContent = "Saving…";
    try {
      this._apply(await this._client().updatePreferences({ [input.name]: value }));
      this._status.textContent = "Saved";
      this._changed(input.name);
    } catch {
      if (this._saved) this._apply(this._saved); // back to what the service holds
      this._status.textContent = "Couldn't save. Try again.";
    }
  }
}
