// The demo host site's glue: pick "who am I", get that user's token from the
// demo-only endpoint, configure the notifications client, and drive the
// "act as another user" panel. A real site replaces this file with its own
// login; see docs/WEB.md. All data goes on the page with textContent.

import { configureNotifications } from "/web/notifications-elements.js";

const USER_KEY = "notifications-demo-user";

async function getJson(url, init) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  return body;
}

const postJson = (url, data) =>
  getJson(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });

function el(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const initialOf = (handle) => ([...(handle || "?")][0] || "?").toUpperCase();

/** `?token=` links printed by `serve --demo` pick the user they name; the token itself is not kept. */
function userFromLink(users) {
  const params = new URLSearchParams(location.search);
  const handle = params.get("as");
  let user = handle ? users.find((u) => u.handle === handle) : null;
  const token = params.get("token");
  if (!user && token) {
    try {
      const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      user = users.find((u) => u.id === claims.user_id || (claims.sub && u.public_sqid === claims.sub));
    } catch {
      user = null;
    }
  }
  if (params.has("token") || params.has("as")) {
    params.delete("token");
    params.delete("as");
    const query = params.toString();
    history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
  }
  return user;
}

function chooseUser(users) {
  const fromLink = userFromLink(users);
  if (fromLink) {
    localStorage.setItem(USER_KEY, String(fromLink.id));
    return fromLink;
  }
  const stored = Number(localStorage.getItem(USER_KEY));
  return users.find((u) => u.id === stored) || users[0];
}

/** Tokens come from the demo-only signing endpoint; a real site returns its own access token. */
function tokenSource(userId) {
  let cached = null;
  return async (options) => {
    if (!cached || (options && options.refresh)) {
      cached = (await postJson("/demo/api/token", { user_id: userId })).token;
    }
    return cached;
  };
}

function renderHeader(users, me) {
  const select = document.getElementById("whoami");
  for (const user of users) {
    const option = el("option", { value: String(user.id) }, user.handle);
    option.selected = user.id === me.id;
    select.append(option);
  }
  select.addEventListener("change", () => {
    localStorage.setItem(USER_KEY, select.value);
    location.reload();
  });
  document.getElementById("header-avatar").textContent = initialOf(me.handle);
  for (const link of document.querySelectorAll(".site-nav a")) {
    if (link.getAttribute("href") === location.pathname.replace(/\/$/, "")) link.setAttribute("aria-current", "page");
  }
}

function card(item) {
  const node = el("article", { class: "card" });
  if (item.art_url) node.append(el("img", { src: item.art_url, alt: "" }));
  const body = el("div", { class: "card-body" });
  body.append(
    el("p", { class: "card-title" }, item.title),
    el("p", { class: "card-owner" }, `${item.content_type === "post" ? "Artwork" : "Blog post"} by ${item.owner_handle}`),
  );
  node.append(body);
  return node;
}

function renderFeed(content) {
  const feed = document.getElementById("feed");
  if (feed) feed.replaceChildren(...content.filter((c) => c.content_type === "post").map(card));
}

function renderProfile(me, content) {
  const handle = document.getElementById("profile-handle");
  if (!handle) return;
  handle.textContent = me.handle;
  document.getElementById("profile-avatar").textContent = initialOf(me.handle);
  const mine = content.filter((c) => c.owner_id === me.id);
  document.getElementById("profile-summary").textContent =
    `${mine.length} ${mine.length === 1 ? "work" : "works"} · @${me.public_sqid || me.id}`;
  document.getElementById("my-content").replaceChildren(...mine.map(card));
}

function setupActPanel(users, me, content) {
  const panel = document.getElementById("act-panel");
  if (!panel) return;
  const actor = document.getElementById("actor");
  const target = document.getElementById("target");
  const status = document.getElementById("act-status");
  const activity = document.getElementById("activity");
  const others = users.filter((u) => u.id !== me.id);
  for (const user of others.length ? others : users) actor.append(el("option", { value: String(user.id) }, user.handle));
  // Content owned by "me" first: acting on it is what makes my badge move.
  const ordered = [...content].sort((a, b) => (b.owner_id === me.id) - (a.owner_id === me.id));
  for (const item of ordered) {
    const kind = item.content_type === "post" ? "artwork" : "blog post";
    target.append(
      el("option", { value: `${item.content_type}:${item.content_id}` }, `${item.title} (${kind} by ${item.owner_handle})`),
    );
  }

  const selected = () => {
    const [contentType, id] = target.value.split(":");
    return { actor_id: Number(actor.value), content_type: contentType, content_id: Number(id) };
  };

  async function run(request, done) {
    status.textContent = "…";
    try {
      await postJson("/demo/api/act", request);
      status.textContent = done;
    } catch (error) {
      status.textContent = `Failed: ${error.message}`;
    }
    await refreshActivity();
  }

  async function refreshActivity() {
    const name = actor.options[actor.selectedIndex]?.textContent || "";
    document.getElementById("actor-name").textContent = name;
    const { activity: rows } = await getJson(`/demo/api/activity?actor_id=${encodeURIComponent(actor.value)}`);
    activity.replaceChildren();
    if (!rows.length) activity.append(el("li", {}, "Nothing yet."));
    for (const row of rows) {
      const item = el("li");
      const what = row.kind === "reaction" ? `${row.detail} on “${row.title}”` : `“${row.detail}” on “${row.title}”`;
      const undo = el("button", { type: "button", class: "secondary" }, row.kind === "reaction" ? "Un-react" : "Delete");
      undo.addEventListener("click", () =>
        run(
          {
            actor_id: Number(actor.value),
            action: row.kind === "reaction" ? "unreact" : "delete_comment",
            content_type: row.content_type,
            source_id: row.source_id,
          },
          row.kind === "reaction" ? "Reaction removed." : "Comment deleted.",
        ),
      );
      item.append(el("span", {}, what), undo);
      activity.append(item);
    }
  }

  document.getElementById("react-button").addEventListener("click", () =>
    run({ ...selected(), action: "react", emoji: document.getElementById("emoji").value }, "Reacted."),
  );
  document.getElementById("comment-button").addEventListener("click", () => {
    const input = document.getElementById("comment-body");
    run({ ...selected(), action: "comment", body: input.value }, "Commented.").then(() => {
      input.value = "";
    });
  });
  actor.addEventListener("change", refreshActivity);
  refreshActivity();
}

async function main() {
  const [{ users }, { content }] = await Promise.all([getJson("/demo/api/users"), getJson("/demo/api/content")]);
  const me = chooseUser(users);
  document.documentElement.dataset.userId = String(me.id);
  // Exposed for the browser tests and for poking around in the console.
  window.notificationsClient = configureNotifications({ getToken: tokenSource(me.id) });
  renderHeader(users, me);
  renderFeed(content);
  renderProfile(me, content);
  setupActPanel(users, me, content);
  document.documentElement.dataset.ready = "true";
}

main().catch((error) => {
  document.body.prepend(el("p", { class: "status", role: "alert" }, `The demo could not start: ${error.message}`));
});
