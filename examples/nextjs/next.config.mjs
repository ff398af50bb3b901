// Tocsin's address, read when `next build` runs: Next.js writes rewrites into the build.
const tocsinUrl = (process.env.TOCSIN_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");

/** @type {import("next").NextConfig} */
const nextConfig = {
  // Without it Next answers `/socket.io/?EIO=4…` with a 308 to `/socket.io?EIO=4…`: long-polling
  // follows the redirect and works, the WebSocket upgrade never does, and nothing says so.
  skipTrailingSlashRedirect: true,
  async rewrites() {
    return [
      // The browser reaches Tocsin through the app's own host, so it sends the session cookie.
      { source: "/socket.io/:path*", destination: `${tocsinUrl}/socket.io/:path*` },
      { source: "/api/v1/inbox/:path*", destination: `${tocsinUrl}/api/v1/inbox/:path*` },
    ];
  },
};

export default nextConfig;
