// The access token the notifications service accepts (CONTRACT.md §2): HS256,
// signed with the secret the service is configured with, the user's id in
// `user_id`, a short `exp`. The site's backend would issue the same token.
import { createHmac } from "node:crypto";

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

export function notificationsToken(userId: number, secret: string, lifetimeSeconds = 300): string {
  const head = encode({ alg: "HS256", typ: "JWT" });
  const body = encode({ user_id: userId, exp: Math.floor(Date.now() / 1000) + lifetimeSeconds });
  const signature = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${signature}`;
}
