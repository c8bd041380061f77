// GET /api/notifications-token: the signed-in user's token for the notifications
// service (the client asks again on every reconnect, and with ?refresh=1 after a refusal).
import { NextResponse } from "next/server";

import { notificationsToken } from "@/lib/jwt";
import { currentUserId } from "@/lib/session";

export const dynamic = "force-dynamic";

export async function GET() {
  const userId = await currentUserId();
  if (userId === null) return NextResponse.json({ detail: "not signed in" }, { status: 401 });
  const secret = process.env.NOTIFICATIONS_JWT_SECRET;
  if (!secret) return NextResponse.json({ detail: "NOTIFICATIONS_JWT_SECRET is not set" }, { status: 500 });
  return NextResponse.json({ token: notificationsToken(userId, secret) },
    { headers: { "Cache-Control": "no-store" } });
}
