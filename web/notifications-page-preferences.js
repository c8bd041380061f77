// notifications-page-preferences.js — the page's preferences form: the caller's switches
// per kind and channel, the digest schedule, quiet hours in their time zone, a pause, and
// push on this device; loaded when the form is opened and saved one change at a time.

import { disablePush, enablePush, pushEnabled, pushSupported } from "./notifications-push.js";
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
// A pause holds pushes and emails (the app still shows everything) for this long.
const PAUSES = [["", "Not paused"], ["1", "For an hour"], ["8", "For 8 hours"], ["24", "For a day"],
  ["168", "For a week"]];
const PAUSED = "paused"; // the option that shows a pause already running

function deviceTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function timeZones() {
  const known = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", deviceTimeZone(), ...known])];
}

export class PreferencesForm {
  /**
   * @param {() => object | null} client the page's client, once it has one
   * @param {(name: string) => void} changed after a switch was saved
   * @param {() => ({worker: string, page: string} | null)} push where the page's service
   *   worker is (its `push-worker` attribute), or null when the page offers no push
   */
  constructor(client, changed, push = () => null) {
    this._client = client;
    this._changed = changed;
    this._push = push;
    this._form = h("form", { class: "prefs-form" });
    this._status = h("p", { class: "prefs-status", role: "status" });
    const toggle = (name, label) =>
      h("label", {}, h("input", { type: "checkbox", name, disabled: true }), h("span", { text: label }));
    const select = (name, options) => h("select", { name, disabled: true },
      ...options.map(([value, label]) => h("option", { value, text: label })));
    for (const [legend, prefix] of GROUPS) {
      const fieldset = h("fieldset", {}, h("legend", { text: legend }),
        ...KINDS.map(([kind, label]) => toggle(`${prefix}_${kind}`, label)));
      if (prefix === "push_on") fieldset.append(this._buildPushDevice());
      this._form.append(fieldset);
    }
    this._form.append(toggle("aggregate_same_type", "Group similar notifications"));
    this._form.append(h("label", {}, h("span", { text: "Email digest " }),
      select("digest_schedule", DIGEST_SCHEDULES)));
    const clock = (name, label) => h("input", { type: "time", name, disabled: true, "aria-label": label });
    this._form.append(h("fieldset", { class: "quiet" }, h("legend", { text: "Quiet time (the app still shows everything)" }),
      h("label", {}, h("span", { text: "No pushes or emails from" }),
        clock("quiet_hours_start", "Quiet hours start"), h("span", { text: "to" }),
        clock("quiet_hours_end", "Quiet hours end")),
      h("label", {}, h("span", { text: "in the time zone" }), select("time_zone", [])),
      h("label", {}, h("span", { text: "Pause pushes and emails" }), select("snooze", PAUSES))));
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

  _buildPushDevice() {
    this._pushButton = h("button", { type: "button", class: "action push-device", hidden: true });
    this._pushButton.addEventListener("click", () => this._togglePush());
    return this._pushButton;
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
    this._showPushDevice(client);
  }

  /** The device's push button, when the page has a worker, the browser can push and the
   * service has a VAPID key. */
  async _showPushDevice(client) {
    const push = this._push();
    if (!push || !pushSupported()) return;
    try {
      await client.getPushPublicKey();
      this._pushOn = await pushEnabled({ worker: push.worker });
    } catch {
      return; // push is off on the service: no button
    }
    this._labelPush();
    this._pushButton.hidden = false;
  }

  _labelPush() {
    this._pushButton.textContent = this._pushOn ? "Turn off push on this device" : "Turn on push on this device";
    this._pushButton.setAttribute("aria-pressed", String(Boolean(this._pushOn)));
  }

  async _togglePush() {
    const push = this._push();
    const client = this._client();
    if (!push || !client) return;
    this._pushButton.disabled = true;
    try {
      if (this._pushOn) {
        await disablePush(client, { worker: push.worker });
        this._pushOn = false;
        this._status.textContent = "Push is off on this device.";
      } else {
        // Called from this click: the browser asks for the permission only from a gesture.
        const permission = await enablePush(client, push);
        this._pushOn = permission === "granted";
        this._status.textContent = this._pushOn ? "Push is on for this device."
          : permission === "denied" ? "Notifications are blocked for this site in the browser's settings."
            : "";
      }
    } catch {
      this._status.textContent = this._pushOn ? "Couldn't turn push off. Try again."
        : "Couldn't turn on push on this device.";
    } finally {
      this._pushButton.disabled = false;
      this._labelPush();
    }
  }

  _apply(prefs) {
    this._saved = prefs;
    for (const input of this._form.querySelectorAll("input[type=checkbox]")) {
      input.checked = Boolean(prefs[input.name]);
      input.disabled = false;
    }
    const field = (name) => this._form.querySelector(`[name=${name}]`);
    const schedule = field("digest_schedule");
    if (typeof prefs.digest_schedule === "string") schedule.value = prefs.digest_schedule;
    for (const name of ["quiet_hours_start", "quiet_hours_end"]) {
      field(name).value = prefs[name] ?? "";
    }
    const zone = field("time_zone");
    if (!zone.options.length) {
      zone.append(...timeZones().map((name) => h("option", { value: name, text: name })));
    }
    if (prefs.time_zone && ![...zone.options].some((o) => o.value === prefs.time_zone)) {
      zone.append(h("option", { value: prefs.time_zone, text: prefs.time_zone }));
    }
    zone.value = prefs.time_zone ?? "UTC";
    const snooze = field("snooze");
    snooze.querySelector(`option[value=${PAUSED}]`)?.remove();
    const until = prefs.snoozed_until ? new Date(prefs.snoozed_until) : null;
    if (until && until.getTime() > Date.now()) {
      snooze.prepend(h("option", { value: PAUSED, text: `Paused until ${until.toLocaleString()}` }));
      snooze.value = PAUSED;
    } else {
      snooze.value = "";
    }
    for (const element of this._form.querySelectorAll("select, input[type=time]")) element.disabled = false;
  }

  /** The change one edited field asks for, or a message why it cannot be saved yet. */
  _change(input) {
    const field = (name) => this._form.querySelector(`[name=${name}]`);
    if (input.type === "checkbox") return { [input.name]: input.checked };
    if (input.name === "quiet_hours_start" || input.name === "quiet_hours_end") {
      const start = field("quiet_hours_start").value;
      const end = field("quiet_hours_end").value;
      if (!start && !end) return { quiet_hours_start: null, quiet_hours_end: null };
      if (!start || !end) return "Set both times, or clear both.";
      if (start === end) return "Quiet hours must start and end at different times.";
      return { quiet_hours_start: start, quiet_hours_end: end };
    }
    if (input.name === "snooze") {
      if (input.value === PAUSED) return null;
      const hours = Number(input.value);
      return { snoozed_until: hours ? new Date(Date.now() + hours * 3600e3).toISOString() : null };
    }
    return { [input.name]: input.value };
  }

  async _save(input) {
    if (!input || !input.name) return;
    const change = this._change(input);
    if (change === null) return;
    if (typeof change === "string") {
      this._status.textContent = change;
      return;
    }
    this._status.textContent = "Saving…";
    try {
      this._apply(await this._client().updatePreferences(change));
      this._status.textContent = "Saved";
      this._changed(input.name);
    } catch {
      if (this._saved) this._apply(this._saved); // back to what the service holds
      this._status.textContent = "Couldn't save. Try again.";
    }
  }
}
