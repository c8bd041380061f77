// The host site's own session, as a cookie-session site keeps it: here a signed
// user id (HMAC with SESSION_SECRET). The notifications service never sees it;
// the site hands the browser a short-lived JWT for the service instead (token route).
import { createHmac, timingSafeEqual } from "node:crypto";
import { cookies } from "next/headers";

export const SESSION_COOKIE = "site_session";

function secret(): string {
  const value = process.env.SESSION_SECRET;
  if (!value) throw new Error("SESSION_SECRET is not set");
  return value;
}

const sign = (userId: number) => createHmac("sha256", secret()).update(String(userId)).digest("base64url");

export function sessionValue(userId: number): string {
  return `${userId}.${sign(userId)}`;
}

/** The signed-in user's id, or null. */
export async function currentUserId(): Promise<number | null> {
  const raw = (await cookies()).get(SESSION_COOKIE)?.value ?? "";
  const [id, mac] = raw.split(".");
  const userId = Number(id);
  if (!Number.isSafeInteger(userId) || userId <= 0 || !mac) return null;
  const expected = Buffer.from(sign(userId));
  const given = Buffer.from(mac);
  return expected.length === given.length && timingSafeEqual(expected, given) ? userId : null;
}
