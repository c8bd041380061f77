"use client";
// The page's one notifications client, for every component and element below.
// Its token comes from the site's own backend (app/api/notifications-token), so the
// HttpOnly session cookie never reaches script.
import type { ReactNode } from "react";
import { NotificationsProvider } from "pg-social-notifications/react";

async function getToken(opts?: { refresh?: boolean }): Promise<string | null> {
  const response = await fetch(`/api/notifications-token${opts?.refresh ? "?refresh=1" : ""}`,
    { cache: "no-store" });
  if (!response.ok) return null; // signed out: the client waits and asks again
  return ((await response.json()) as { token: string }).token;
}

export function Providers({ serviceUrl, children }: { serviceUrl: string; children: ReactNode }) {
  return (
    <NotificationsProvider getToken={getToken} baseUrl={serviceUrl}>
      {children}
    </NotificationsProvider>
  );
}
