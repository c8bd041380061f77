// GET /login?user=<id>: sign in as that user (the example's stand-in for the site's login).
import { NextResponse, type NextRequest } from "next/server";

import { SESSION_COOKIE, sessionValue } from "@/lib/session";

export const dynamic = "force-dynamic";

export async function GET(request: NextRequest) {
  const userId = Number(request.nextUrl.searchParams.get("user"));
  if (!Number.isSafeInteger(userId) || userId <= 0) {
    return NextResponse.json({ detail: "user must be a user id" }, { status: 400 });
  }
  // A relative Location: the browser stays on the origin it used (request.url may name another).
  const response = new NextResponse(null, { status: 303, headers: { Location: "/" } });
  response.cookies.set(SESSION_COOKIE, sessionValue(userId), { httpOnly: true, sameSite: "lax", path: "/" });
  return response;
}
