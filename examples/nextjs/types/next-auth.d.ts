// The session and its token carry the user's id and tenant: Tocsin reads `id` (else `sub`)
// and `tenantId` from the session cookie.
import "next-auth";
import "next-auth/jwt";

declare module "next-auth" {
  interface User {
    tenantId: string;
  }
  interface Session {
    user: { id: string; tenantId: string; name?: string | null; email?: string | null };
  }
}

declare module "next-auth/jwt" {
  interface JWT {
    id?: string;
    tenantId?: string;
  }
}
