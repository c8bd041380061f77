// notifications-page-actions.js — what a user can do from one notification besides reading
// it: quick actions ("React back", "Reply") that the host page supplies, and the item's menu
// (mute the artwork or blog post, or the comment's thread).
//
// The service never writes the host's tables for a user. A quick action is the host's own:
// either a callback set on the page element,
//   page.quickActions = { react: (notification, emoji) => ..., reply: (notification, text) => ... }
// or an endpoint template in an attribute, which the page POSTs JSON to with the user's
// credentials (the host's token, or its cookie), so the host's own validation, moderation
// and rate limits apply:
//   <notifications-page react-action="/api/react-back/{notification_id}"
//                       reply-action="/api/{content_type}/{content_id}/comments/{comment_id}/replies">
// Placeholders: {notification_id} {content_type} {content_id} {comment_id} {actor_id},
// each URL-encoded. The body is {emoji} or {body}, with the same five fields beside it.

import { h } from "./notifications-shared.js";

const PLACEHOLDERS = ["notification_id", "content_type", "content_id", "comment_id", "actor_id"];
const DEFAULT_EMOJIS = ["❤️", "🔥", "👏"];
export const MAX_REPLY_LENGTH = 2000;

/** The five values a template and a request body carry. */
function actionFields(n) {
  return {
    notification_id: n.id, content_type: n.content_type, content_id: n.content_id,
    comment_id: n.comment_id ?? null, actor_id: n.actor_id ?? null,
  };
}

/** A template filled in, or null when it names a value this notification does not have. */
export function fillTemplate(template, n) {
  const fields = actionFields(n);
  let missing = false;
  const url = template.replace(/\{([a-z_]+)\}/g, (whole, name) => {
    if (!PLACEHOLDERS.includes(name)) return whole;
    const value = fields[name];
    if (value === null || value === undefined) missing = true;
    return encodeURIComponent(String(value));
  });
  return missing ? null : url;
}

/**
 * The quick actions a page offers, from its callbacks and attributes:
 * {react: (n, emoji) => Promise | null, reply: (n, text) => Promise | null, emojis: [...]}.
 */
export function quickActionsOf(page, client) {
  const callbacks = page.quickActions || {};
  const viaEndpoint = (attribute, key) => {
    const template = page.getAttribute(attribute);
    if (!template) return null;
    return (n, value) => {
      const url = fillTemplate(template, n);
      if (url === null) return Promise.reject(new Error("this notification cannot take that action"));
      return client.hostAction(url, { [key]: value, ...actionFields(n) });
    };
  };
  const emojis = (page.getAttribute("react-emojis") || "").split(/\s+/).filter(Boolean);
  return {
    react: typeof callbacks.react === "function" ? callbacks.react : viaEndpoint("react-action", "emoji"),
    reply: typeof callbacks.reply === "function" ? callbacks.reply : viaEndpoint("reply-action", "body"),
    emojis: emojis.length ? emojis.slice(0, 8) : DEFAULT_EMOJIS,
  };
}

/** Why an action failed, for the user: the host's own words when it gave any. */
function failure(error) {
  if (error && error.status) return `The site said no (${error.status}${error.detail ? `: ${error.detail}` : ""}).`;
  return error && error.message ? error.message : "Something went wrong. Try again.";
}

/**
 * The quick-action row of one notification (null when it offers none): "React back"
 * (when the actor is a user) opens a row of emoji; "Reply" (on a comment) opens a labelled
 * text box. Each says what happened in a polite live region of its own.
 */
export function renderQuickActions(n, actions) {
  const canReact = actions.react && n.actor_id !== null && n.actor_id !== undefined;
  const canReply = actions.reply && n.notification_type === "comment" && n.comment_id;
  if (!canReact && !canReply) return null;
  const who = n.actor_handle || "them";
  const status = h("span", { class: "quick-status", role: "status", "aria-live": "polite" });
  const row = h("div", { class: "quick", role: "group", "aria-label": `Quick actions for ${who}'s notification` });
  const panel = h("div", { class: "quick-panel", hidden: true });
  const run = async (button, work, done) => {
    button.disabled = true;
    status.textContent = "Sending…";
    try {
      await work();
      status.textContent = done;
      panel.hidden = true;
      panel.replaceChildren();
      return true;
    } catch (error) {
      status.textContent = failure(error);
      return false;
    } finally {
      button.disabled = false;
    }
  };
  const toggle = (button, build) => {
    const open = panel.hidden || panel.dataset.for !== button.dataset.action;
    for (const other of row.querySelectorAll("button[aria-expanded]")) other.setAttribute("aria-expanded", "false");
    panel.replaceChildren();
    panel.hidden = !open;
    if (!open) return;
    panel.dataset.for = button.dataset.action;
    button.setAttribute("aria-expanded", "true");
    build();
  };
  if (canReact) {
    const button = h("button", {
      type: "button", class: "quick-action react-back", "data-action": "react", "aria-expanded": "false",
      "aria-label": `React back to ${who}`, text: "React back",
    });
    button.addEventListener("click", () => toggle(button, () => {
      const choices = h("div", { class: "emoji-choices", role: "group", "aria-label": "Choose a reaction" });
      for (const emoji of actions.emojis) {
        const choice = h("button", { type: "button", class: "emoji", "aria-label": `React with ${emoji}`, text: emoji });
        choice.addEventListener("click", () => run(choice, () => actions.react(n, emoji), `You reacted ${emoji}`)
          .then((ok) => { if (ok) button.setAttribute("aria-expanded", "false"); }));
        choices.append(choice);
      }
      panel.append(choices);
      choices.querySelector("button")?.focus();
    }));
    row.append(button);
  }
  if (canReply) {
    const button = h("button", {
      type: "button", class: "quick-action reply", "data-action": "reply", "aria-expanded": "false",
      "aria-label": `Reply to ${who}`, text: "Reply",
    });
    button.addEventListener("click", () => toggle(button, () => {
      const id = `reply-${n.id}`;
      const box = h("textarea", { id, class: "reply-text", rows: "2", maxlength: String(MAX_REPLY_LENGTH), required: true });
      const send = h("button", { type: "submit", class: "action send-reply", text: "Send reply" });
      const cancel = h("button", { type: "button", class: "action", text: "Cancel" });
      const form = h("form", { class: "reply-form" },
        h("label", { for: id, class: "sr-only", text: `Reply to ${who}` }), box, h("div", { class: "reply-buttons" }, send, cancel));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = box.value.trim();
        if (!text) {
          status.textContent = "Write a reply first.";
          box.focus();
          return;
        }
        run(send, () => actions.reply(n, text), "Reply sent").then((ok) => {
          if (ok) {
            button.setAttribute("aria-expanded", "false");
            button.focus();
          }
        });
      });
      box.addEventListener("keydown", (event) => {
        if (event.key === "Escape") cancel.click();
        else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
      });
      cancel.addEventListener("click", () => {
        panel.hidden = true;
        panel.replaceChildren();
        button.setAttribute("aria-expanded", "false");
        button.focus();
      });
      panel.append(form);
      box.focus();
    }));
    row.append(button);
  }
  row.append(status);
  return h("div", { class: "quick-wrap" }, row, panel);
}

const contentNoun = (n) => (n.content_type === "blog_post" ? "blog post" : "artwork");

/**
 * The item's menu button and menu: mute or unmute its artwork or blog post, and for a
 * comment its thread. `mutes` answers what is muted and does the muting (MuteList below).
 * A menu button in the WAI-ARIA pattern: Enter, Space or ArrowDown opens it on the first
 * item, arrows move, Escape closes it and gives focus back.
 */
export function renderItemMenu(n, mutes) {
  const button = h("button", {
    type: "button", class: "menu-button", "aria-haspopup": "menu", "aria-expanded": "false",
    "aria-label": `More actions for this notification about ${n.content_title}`, text: "⋯",
  });
  const menu = h("div", { class: "menu", role: "menu", hidden: true });
  const wrap = h("div", { class: "menu-wrap" }, button, menu);
  const close = (focusButton) => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focusButton) button.focus();
  };
  const entry = (label, work) => {
    const item = h("button", { type: "button", role: "menuitem", tabindex: "-1", text: label });
    item.addEventListener("click", async () => {
      close(true);
      await work();
    });
    return item;
  };
  const fill = () => {
    const noun = contentNoun(n);
    const items = [];
    const contentMute = mutes.contentMute(n);
    items.push(contentMute
      ? entry(`Unmute this ${noun}`, () => mutes.unmute(contentMute, `this ${noun}`))
      : entry(`Mute this ${noun}`, () => mutes.mute(n, false, `this ${noun}`)));
    if (n.notification_type === "comment" && n.comment_id) {
      const threadMute = mutes.threadMute(n);
      items.push(threadMute
        ? entry("Unmute this thread", () => mutes.unmute(threadMute, "this thread"))
        : entry("Mute this thread", () => mutes.mute(n, true, "this thread")));
    }
    menu.replaceChildren(...items);
  };
  const open = () => {
    fill();
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    menu.querySelector("[role=menuitem]")?.focus();
  };
  button.addEventListener("click", () => (menu.hidden ? open() : close(false)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && menu.hidden) {
      event.preventDefault();
      open();
    }
  });
  menu.addEventListener("keydown", (event) => {
    const items = [...menu.querySelectorAll("[role=menuitem]")];
    const at = items.indexOf(event.target);
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = (at + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      items[next].focus();
    } else if (event.key === "Tab") {
      close(false);
    }
  });
  wrap.addEventListener("focusout", (event) => {
    if (!menu.hidden && !wrap.contains(event.relatedTarget)) close(false);
  });
  return wrap;
}

/**
 * The user's mutes as the page knows them (loaded with the list, kept as they change):
 * answers whether a notification's content or thread is muted, mutes and unmutes through
 * the client, and tells `changed(text)` what happened.
 */
export class MuteList {
  constructor(client, changed) {
    this._client = client;
    this._changed = changed;
    this._mutes = [];
    this._threadOf = new Map(); // comment id -> its thread's root, as muting told us
  }

  get mutes() {
    return this._mutes;
  }

  async load() {
    try {
      this._mutes = (await this._client().listMutes()).items;
    } catch {
      this._mutes = [];
    }
  }

  contentMute(n) {
    return this._mutes.find((m) => m.thread_id === null && m.content_type === n.content_type && m.content_id === n.content_id) || null;
  }

  threadMute(n) {
    const root = this._threadOf.get(n.comment_id) ?? n.comment_id;
    return this._mutes.find((m) => m.thread_id !== null && m.thread_id === root) || null;
  }

  async mute(n, thread, what) {
    try {
      const mute = await this._client().mute({
        contentType: n.content_type, contentId: n.content_id, commentId: thread ? n.comment_id : undefined,
      });
      if (thread) this._threadOf.set(n.comment_id, mute.thread_id);
      this._mutes = [mute, ...this._mutes.filter((m) => m.id !== mute.id)];
      this._changed(`Muted ${what}: you won't be notified about it until you unmute it.`);
    } catch (error) {
      this._changed(`Couldn't mute ${what}. ${failure(error)}`);
    }
  }

  async unmute(mute, what) {
    try {
      await this._client().unmute(mute.id);
    } catch (error) {
      if (!error || error.status !== 404) {
        this._changed(`Couldn't unmute ${what}. ${failure(error)}`);
        return;
      }
    }
    this._mutes = this._mutes.filter((m) => m.id !== mute.id);
    this._changed(`Unmuted ${what}.`);
  }
}
