"use client";
// The site's header: the profile button carries the unread badge.
import Link from "next/link";
import { NotificationBadge, useConnected } from "pg-social-notifications/react";

export function Header({ signedIn }: { signedIn: boolean }) {
  const connected = useConnected();
  return (
    <header className="site-header">
      <Link href="/" className="brand">Artsite</Link>
      {signedIn ? (
        <NotificationBadge>
          <Link href="/profile" className="profile-button" aria-label="Your profile">
            <span aria-hidden="true">🎨</span>
          </Link>
        </NotificationBadge>
      ) : (
        <span>Signed out</span>
      )}
      <span className="live" data-connected={connected ? "yes" : "no"}>{connected ? "live" : "offline"}</span>
    </header>
  );
}
