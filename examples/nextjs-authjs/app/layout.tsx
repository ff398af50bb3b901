import type { Metadata } from "next";
import type { ReactNode } from "react";
// The package's React entry is a Client Component ("use client"): a Server Component renders it.
import { NotificationCenter } from "@tocsin/client/react";

import { auth } from "@/auth";
import "./globals.css";

export const metadata: Metadata = { title: "Cabinet — Tocsin et Auth.js v5" };

export default async function RootLayout({ children }: { children: ReactNode }) {
  const session = await auth();
  return (
    <html lang="fr">
      <body>
        <header className="bar">
          <a className="brand" href="/">
            Cabinet
          </a>
          {session ? (
            <>
              <span className="who" data-testid="who">
                {session.user.name} · {session.user.tenantId}
              </span>
              {/* Connects to /socket.io on this host (rewritten to Tocsin) with the session cookie. */}
              <NotificationCenter locale="fr" />
              <a href="/api/auth/signout">Se déconnecter</a>
            </>
          ) : (
            <a href="/api/auth/signin" data-testid="sign-in">
              Se connecter
            </a>
          )}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
