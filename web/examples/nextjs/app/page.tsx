import Link from "next/link";

export default function Home() {
  return (
    <>
      <h1>Latest artwork</h1>
      <p>Your profile button, top right, shows what you have not seen yet. <Link href="/profile">Profile</Link></p>
    </>
  );
}
