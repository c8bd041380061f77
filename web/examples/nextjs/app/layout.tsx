import type { ReactNode } from "react";

import { currentUserId } from "@/lib/session";

import { Header } from "./header";
import { Providers } from "./providers";
import "./site.css";

export const metadata = { title: "Artsite" };
export const dynamic = "force-dynamic"; // the session and the service's URL are read per request

export default async function RootLayout({ children }: { children: ReactNode }) {
  const signedIn = (await currentUserId()) !== null;
  // Where the browser reaches the notifications service (its origin must be in the
  // service's NOTIFICATIONS_ALLOWED_ORIGINS), read at request time, not build time.
  const serviceUrl = process.env.NOTIFICATIONS_URL ?? "";
  return (
    <html lang="en">
      <body>
        <Providers serviceUrl={serviceUrl}>
          <Header signedIn={signedIn} />
          <main>{children}</main>
        </Providers>
      </body>
    </html>
  );
}
