// The session and its token carry the user's id and tenant: Tocsin reads `id` (else `sub`)
// and `tenantId` from the session cookie.
import type { DefaultSession } from "next-auth";

declare module "next-auth" {
  interface User {
    tenantId: string;
  }
  interface Session {
    user: { id: string; tenantId: string } & DefaultSession["user"];
  }
}

// next-auth/jwt re-exports this interface: augment it where it is declared.
declare module "@auth/core/jwt" {
  interface JWT {
    id?: string;
    tenantId?: string;
  }
}
