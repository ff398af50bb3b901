/** The page Tocsin serves at `/`: the NotificationCenter of the signed-in user. */
import { StrictMode, useEffect, useState, type ReactElement } from "react";
import { createRoot } from "react-dom/client";

import { messages, type Locale } from "../core/i18n.js";
import { NotificationCenter } from "../react/NotificationCenter.js";
import { useWebSocket, type UseWebSocketOptions } from "../react/useWebSocket.js";

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

async function loadSession(): Promise<Loaded> {
  const response = await fetch("web/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = (await response.json().catch(() => ({}))) as WebSession & { reason?: string };
  if (response.ok) return { kind: "signed-in", session: body };
  return { kind: "signed-out", signinUrl: body.signinUrl ?? null, reason: body.reason ?? "missing_token" };
}

function Stats({ options }: { options: UseWebSocketOptions }): ReactElement {
  // The seed's hook, exactly as an app would use it.
  const { notifications, unreadCount, clientsCount, requestNotificationPermission } = useWebSocket(options);
  const [permission, setPermission] = useState(typeof Notification === "undefined" ? "denied" : Notification.permission);
  const fr = locale === "fr";
  return (
    <div className="page-card">
      <div className="page-stats">
        <div className="page-stat"><b data-testid="stat-unread">{unreadCount}</b><span>{fr ? "non lues" : "unread"}</span></div>
        <div className="page-stat"><b>{notifications.emails.length}</b><span>{fr ? "e-mails" : "e-mails"}</span></div>
        <div className="page-stat"><b>{notifications.deadlines.length}</b><span>{fr ? "alertes de délai" : "deadline alerts"}</span></div>
        <div className="page-stat"><b>{clientsCount}</b><span>{fr ? "connexions du cabinet" : "connections in the firm"}</span></div>
      </div>
      {permission === "default" && (
        <button type="button" className="page-btn" onClick={() => void requestNotificationPermission().then(setPermission)}>
          {fr ? "Activer les notifications du navigateur" : "Enable browser notifications"}
        </button>
      )}
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
          <p>{t.notSignedIn} ({loaded.reason})</p>
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
