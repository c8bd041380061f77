import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** @type {import("next").NextConfig} */
const nextConfig = {
  reactStrictMode: true, // effects run twice in development: the provider keeps one client
  // This app is its own root (web/ above it has a lockfile of its own, for the package).
  turbopack: { root: dirname(fileURLToPath(import.meta.url)) },
};

export default nextConfig;
