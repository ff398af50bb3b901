import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";

import { checkCredentials } from "./users";

/** NextAuth v4: a Credentials sign-in whose JWT session carries the user's tenant. */
export const authOptions: NextAuthOptions = {
  session: { strategy: "jwt" },
  providers: [
    CredentialsProvider({
      name: "Cabinet",
      credentials: {
        email: { label: "E-mail", type: "email", placeholder: "alice@firm-a.fr" },
        password: { label: "Mot de passe", type: "password" },
      },
      async authorize(credentials) {
        const user = checkCredentials(credentials?.email ?? "", credentials?.password ?? "");
        return user && { id: user.id, name: user.name, email: user.email, tenantId: user.tenantId };
      },
    }),
  ],
  callbacks: {
    // What Tocsin needs in the cookie: the user (`id`, else `sub`) and the tenant.
    async jwt({ token, user }) {
      if (user) {
        token.id = user.id;
        token.tenantId = user.tenantId;
      }
      return token;
    },
    async session({ session, token }) {
      session.user = { ...session.user, id: token.id ?? token.sub ?? "", tenantId: token.tenantId ?? "" };
      return session;
    },
  },
};
