/** Texts of the client and the NotificationCenter, in French (the seed's) and English. */

export type Locale = "fr" | "en";

export interface Messages {
  live: string;
  connecting: string;
  disconnected: string;
  notifications: string;
  unread: (count: number) => string;
  tabs: { all: string; emails: string; dossiers: string; deadlines: string; system: string };
  markRead: string;
  markAllRead: string;
  clear: string;
  empty: string;
  emptyTab: string;
  loadOlder: string;
  loading: string;
  close: string;
  connectedClients: (count: number) => string;
  newEmailTitle: string;
  criticalDeadlineTitle: string;
  from: string;
  dossier: string;
  actions: Record<"created" | "updated" | "status_changed" | "document_added", string>;
  urgency: Record<"critical" | "urgent" | "warning" | "info", string>;
  remaining: (days: number) => string;
  announce: { email: string; dossier: string; deadline: string; system: string };
  notSignedIn: string;
  signIn: string;
}

const fr: Messages = {
  live: "En direct",
  connecting: "Connexion...",
  disconnected: "Déconnecté",
  notifications: "Notifications",
  unread: (n) => (n === 0 ? "aucune non lue" : n === 1 ? "1 non lue" : `${n} non lues`),
  tabs: { all: "Tout", emails: "E-mails", dossiers: "Dossiers", deadlines: "Délais", system: "Système" },
  markRead: "Marquer comme lu",
  markAllRead: "Tout marquer comme lu",
  clear: "Effacer",
  empty: "Aucune notification",
  emptyTab: "Rien ici pour l'instant",
  loadOlder: "Afficher les plus anciennes",
  loading: "Chargement…",
  close: "Fermer",
  connectedClients: (n) => (n <= 1 ? `${n} connexion` : `${n} connexions`),
  newEmailTitle: "Nouvel e-mail",
  criticalDeadlineTitle: "⚠️ Délai critique",
  from: "De",
  dossier: "Dossier",
  actions: {
    created: "Dossier créé",
    updated: "Dossier mis à jour",
    status_changed: "Statut modifié",
    document_added: "Document ajouté",
  },
  urgency: { critical: "Critique", urgent: "Urgent", warning: "Attention", info: "Info" },
  remaining: (d) =>
    d === 0
      ? "expire aujourd'hui"
      : d < 0
        ? `expiré depuis ${-d} j`
        : d === 1
          ? "1 jour restant"
          : `${d} jours restants`,
  announce: {
    email: "Nouvel e-mail",
    dossier: "Dossier mis à jour",
    deadline: "Alerte de délai",
    system: "Notification système",
  },
  notSignedIn: "Vous n'êtes pas connecté.",
  signIn: "Se connecter",
};

const en: Messages = {
  live: "Live",
  connecting: "Connecting…",
  disconnected: "Disconnected",
  notifications: "Notifications",
  unread: (n) => (n === 0 ? "none unread" : `${n} unread`),
  tabs: { all: "All", emails: "E-mails", dossiers: "Dossiers", deadlines: "Deadlines", system: "System" },
  markRead: "Mark as read",
  markAllRead: "Mark all as read",
  clear: "Clear",
  empty: "No notifications",
  emptyTab: "Nothing here yet",
  loadOlder: "Show older",
  loading: "Loading…",
  close: "Close",
  connectedClients: (n) => (n === 1 ? "1 connection" : `${n} connections`),
  newEmailTitle: "New e-mail",
  criticalDeadlineTitle: "⚠️ Critical deadline",
  from: "From",
  dossier: "Dossier",
  actions: {
    created: "Dossier created",
    updated: "Dossier updated",
    status_changed: "Status changed",
    document_added: "Document added",
  },
  urgency: { critical: "Critical", urgent: "Urgent", warning: "Warning", info: "Info" },
  remaining: (d) =>
    d === 0
      ? "due today"
      : d < 0
        ? `overdue by ${-d} d`
        : d === 1
          ? "1 day left"
          : `${d} days left`,
  announce: {
    email: "New e-mail",
    dossier: "Dossier updated",
    deadline: "Deadline alert",
    system: "System notification",
  },
  notSignedIn: "You are not signed in.",
  signIn: "Sign in",
};

/** The texts of a locale (French unless `en`). */
export function messages(locale: Locale | string | undefined): Messages {
  return typeof locale === "string" && locale.toLowerCase().startsWith("en") ? en : fr;
}
