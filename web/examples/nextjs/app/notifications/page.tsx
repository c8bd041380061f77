import { NotificationList } from "./notification-list";

export default function NotificationsPage() {
  return (
    <>
      <h1>Notifications</h1>
      <NotificationList />
    </>
  );
}
