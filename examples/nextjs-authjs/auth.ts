import NextAuth from "next-auth";
import Credentials from "next-auth/providers/credentials";

import { checkCredentials } from "./lib/users";

/** Auth.js v5: the same Credentials sign-in as the v4 example; the session carries the tenant. */
export const { handlers, auth } = NextAuth({
  providers: [
    Credentials({
      name: "Cabinet",
      credentials: {
        email: { label: "E-mail", type: "email", placeholder: "alice@firm-a.fr" },
        password: { label: "Mot de passe", type: "password" },
      },
      async authorize(credentials) {
        const user = checkCredentials(String(credentials.email ?? ""), String(credentials.password ?? ""));
        return user && { id: user.id, name: user.name, email: user.email, tenantId: user.tenantId };
      },
    }),
  ],
  callbacks: {
    // What Tocsin needs in the cookie: the user (`id`, else `sub`) and the tenant.
    jwt({ token, user }) {
      if (user) {
        token.id = user.id;
        token.tenantId = user.tenantId;
      }
      return token;
    },
    session({ session, token }) {
      session.user.id = token.id ?? token.sub ?? "";
      session.user.tenantId = token.tenantId ?? "";
      return session;
    },
  },
});
