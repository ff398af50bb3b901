/** The page Tocsin serves at `/`: the NotificationCenter of the signed-in user. */
import { StrictMode, useEffect, useState, type ReactElement } from "react";
import { createRoot } from "react-dom/client";

import { messages, type Locale } from "../core/i18n.js";
import { NotificationCenter } from "../react/NotificationCenter.js";
import { PushControl } from "../react/PushControl.js";
import { useWebSocket, type UseWebSocketOptions } from "../react/useWebSocket.js";
import { SignedOutHelp } from "./help.js";

interface WebSession {
  userId: string;
  tenantId: string;
  name?: string | null;
  email?: string | null;
  role?: string | null;
  tenantName?: string | null;
  signinUrl?: string | null;
  signoutUrl?: string | null;
}

type Loaded = { kind: "signed-in"; session: WebSession } | { kind: "signed-out"; signinUrl: string | null; reason: string };

const query = new URLSearchParams(window.location.search);
const locale: Locale = (query.get("lang") ?? "fr").startsWith("en") ? "en" : "fr";
const delay = Number(query.get("reconnectDelay"));
const TOKEN_KEY = "tocsin.token";
const token = takeToken();
// A token pasted into the address bar of this page changes only the fragment: no new load.
window.addEventListener("hashchange", () => {
  if (new URLSearchParams(window.location.hash.slice(1)).has("token")) window.location.reload();
});

/**
 * A user token given as `/#token=…` (a fragment never reaches a server, a log or a Referer),
 * kept for this tab and taken out of the address bar; else the one kept earlier.
 */
function takeToken(): string | null {
  const given = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (given) history.replaceState(null, "", window.location.pathname + window.location.search);
  try {
    if (given) sessionStorage.setItem(TOKEN_KEY, given);
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return given; // storage disabled: this load only
  }
}

async function loadSession(): Promise<Loaded> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("web/session", { credentials: "same-origin", headers });
  const body = (await response.json().catch(() => ({}))) as WebSession & { reason?: string };
  if (response.ok) return { kind: "signed-in", session: body };
  if (token) {
    try {
      sessionStorage.removeItem(TOKEN_KEY); // refused: the next load falls back to the cookie
    } catch {
      // storage disabled: nothing was kept
    }
  }
  return { kind: "signed-out", signinUrl: body.signinUrl ?? null, reason: body.reason ?? "missing_token" };
}

function Stats({ options }: { options: UseWebSocketOptions }): ReactElement {
  // The seed's hook, exactly as an app would use it.
  const { notifications, unreadCount, clientsCount } = useWebSocket(options);
  const { counts } = messages(locale);
  return (
    <div className="page-card">
      <div className="page-stats">
        <div className="page-stat"><b data-testid="stat-unread">{unreadCount}</b><span>{counts.unread(unreadCount)}</span></div>
        <div className="page-stat"><b>{notifications.emails.length}</b><span>{counts.emails(notifications.emails.length)}</span></div>
        <div className="page-stat"><b>{notifications.deadlines.length}</b><span>{counts.deadlineAlerts(notifications.deadlines.length)}</span></div>
        <div className="page-stat"><b>{clientsCount}</b><span>{counts.connections(clientsCount)}</span></div>
      </div>
      {/* Browser permission and Web Push, from one click. */}
      <div className="page-push">
        <PushControl locale={locale} options={options} />
      </div>
    </div>
  );
}

function App(): ReactElement {
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    loadSession().then(setLoaded, (error: unknown) => setFailure(String(error)));
  }, []);
  const t = messages(locale);
  if (failure) return <main className="page-main"><div className="page-card">{failure}</div></main>;
  if (!loaded) return <p className="page-loading">Tocsin…</p>;
  if (loaded.kind === "signed-out") {
    // A server that offers sign-in (`tocsin demo`) gets the visitor there directly.
    if (loaded.signinUrl && !query.has("nosignin")) window.location.replace(loaded.signinUrl);
    return (
      <main className="page-main">
        <div className="page-card" data-testid="signed-out">
          <h1>Tocsin</h1>
          <SignedOutHelp locale={locale} reason={loaded.reason} />
          {loaded.signinUrl && <a className="page-btn" href={loaded.signinUrl}>{t.signIn}</a>}
        </div>
      </main>
    );
  }
  const { session } = loaded;
  const options: UseWebSocketOptions = {
    tenantId: session.tenantId,
    userId: session.userId,
    debug: query.has("debug"),
    locale,
    ...(token ? { token } : {}),
    ...(delay > 0 ? { reconnectDelay: delay } : {}),
  };
  const fr = locale === "fr";
  return (
    <>
      <header className="page-top">
        <div className="page-brand">Tocsin <small>{session.tenantName ?? session.tenantId}</small></div>
        <div className="page-spacer" />
        <div className="page-user" data-testid="page-user">
          <strong>{session.name ?? session.userId}</strong>
          <span>{session.email ?? session.role ?? ""}</span>
        </div>
        <NotificationCenter locale={locale} options={options} defaultOpen={query.has("open")} />
      </header>
      <main className="page-main">
        <div className="page-card">
          <h1>{fr ? `Bonjour, ${session.name ?? session.userId}` : `Hello, ${session.name ?? session.userId}`}</h1>
          <p>
            {fr
              ? "Vos notifications arrivent en direct dans la cloche, en haut à droite : e-mails, dossiers, délais et annonces du cabinet."
              : "Your notifications arrive live in the bell, top right: e-mails, dossiers, deadlines and announcements."}
          </p>
          {session.signinUrl && (
            <p>
              <a className="page-link" href={session.signinUrl}>{fr ? "Changer d'utilisateur" : "Switch user"}</a>
              {session.signoutUrl && <> · <a className="page-link" href={session.signoutUrl}>{fr ? "Se déconnecter" : "Sign out"}</a></>}
            </p>
          )}
        </div>
        <Stats options={options} />
      </main>
    </>
  );
}

const root = document.getElementById("root");
if (root) {
  document.documentElement.lang = locale;
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
