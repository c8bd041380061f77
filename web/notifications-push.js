// notifications-push.js — Web Push on this device: register the service worker
// (notifications-sw.js), subscribe with the service's VAPID key and tell the
// service; and the way back. Call enablePush() from a user's click: browsers
// ask for the permission only then, and a site that asks on load is blocked.

const DEFAULT_WORKER = "/notifications-sw.js";

/** Whether this browser can do Web Push at all (a secure page with service workers). */
export function pushSupported(scope = globalThis) {
  return Boolean(scope.isSecureContext && scope.navigator?.serviceWorker && scope.PushManager &&
    scope.Notification);
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

async function registration(worker, page) {
  const url = new URL(worker, globalThis.location.href);
  if (page) url.searchParams.set("page", page);
  const registered = await navigator.serviceWorker.register(url.href, { type: "module" });
  // Subscribing needs an active worker; this page need not be in its scope.
  const installing = registered.installing ?? registered.waiting;
  if (!registered.active && installing) {
    await new Promise((resolve) => {
      installing.addEventListener("statechange", () => installing.state === "activated" && resolve());
    });
  }
  return registered;
}

/**
 * Turn push on for this device: asks for permission (from a click), subscribes, and
 * registers the subscription with the service. Resolves with "granted", or with
 * "denied" / "default" (nothing subscribed) when the user said no or closed the prompt.
 * Options: `worker` (the service worker's URL, served at the scope it controls),
 * `page` (where a click goes when a notification has no link of its own).
 */
export async function enablePush(client, { worker = DEFAULT_WORKER, page = "/notifications" } = {}) {
  if (!pushSupported()) throw new Error("Web Push is not supported in this browser");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") return permission;
  const ready = await registration(worker, page);
  const { public_key: key } = await client.getPushPublicKey();
  const subscription = (await ready.pushManager.getSubscription()) ??
    (await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }));
  await client.addPushSubscription(subscription.toJSON());
  return "granted";
}

/** Turn push off for this device: the service forgets the subscription, the browser drops it. */
export async function disablePush(client, { worker = DEFAULT_WORKER } = {}) {
  const ready = await navigator.serviceWorker?.getRegistration(worker);
  const subscription = await ready?.pushManager.getSubscription();
  if (!subscription) return;
  await client.removePushSubscription(subscription.endpoint);
  await subscription.unsubscribe();
}

/** Whether this device is subscribed now. */
export async function pushEnabled({ worker = DEFAULT_WORKER } = {}) {
  if (!pushSupported()) return false;
  const ready = await navigator.serviceWorker.getRegistration(worker);
  return Boolean(await ready?.pushManager.getSubscription());
}
