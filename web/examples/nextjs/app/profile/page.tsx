"use client";
import { NotificationsButton } from "pg-social-notifications/react";

export default function Profile() {
  return (
    <>
      <h1>Your profile</h1>
      <NotificationsButton href="/notifications" />
    </>
  );
}
