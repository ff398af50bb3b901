/**
 * Texts of the client and the NotificationCenter, in French (the seed's) and English.
 *
 * Every count goes through the locale's plural rules (`Intl.PluralRules`): French puts 0 and 1
 * in the singular (« 0 connexion », « 1 jour restant »), English only 1 ("0 connections").
 */

export type Locale = "fr" | "en";

/** The forms of a counted phrase; `#` stands for the number. `many` falls back to `other`. */
export interface PluralForms {
  one: string;
  other: string;
  many?: string;
}

/** `forms` for `count` under `locale`'s plural rules: plural("fr", 2, {one: "# jour", other: "# jours"}). */
export function plural(locale: Locale, count: number, forms: PluralForms): string {
  const category = pluralRules(locale).select(count);
  const form = category === "one" ? forms.one : category === "many" ? (forms.many ?? forms.other) : forms.other;
  return form.replace("#", String(count));
}

const rules = new Map<Locale, Intl.PluralRules>();
function pluralRules(locale: Locale): Intl.PluralRules {
  let found = rules.get(locale);
  if (!found) {
    found = new Intl.PluralRules(locale);
    rules.set(locale, found);
  }
  return found;
}

/** Labels of figures shown beside their number (« 3 » over « alertes de délai »). */
export interface CountLabels {
  unread: (count: number) => string;
  emails: (count: number) => string;
  deadlineAlerts: (count: number) => string;
  connections: (count: number) => string;
}

export interface Messages {
  live: string;
  connecting: string;
  disconnected: string;
  notifications: string;
  /** The bell's and the tabs' count: « 1 non lue », « 3 non lues ». */
  unread: (count: number) => string;
  /** The state of one item, read out after its title (visually hidden). */
  unreadItem: string;
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
  counts: CountLabels;
  announce: { email: string; dossier: string; deadline: string; system: string };
  notSignedIn: string;
  signIn: string;
}

const fr: Messages = {
  live: "En direct",
  connecting: "Connexion...",
  disconnected: "Déconnecté",
  notifications: "Notifications",
  unread: (n) => (n === 0 ? "aucune non lue" : plural("fr", n, { one: "# non lue", other: "# non lues" })),
  unreadItem: "non lue",
  tabs: { all: "Tout", emails: "E-mails", dossiers: "Dossiers", deadlines: "Délais", system: "Système" },
  markRead: "Marquer comme lu",
  markAllRead: "Tout marquer comme lu",
  clear: "Effacer",
  empty: "Aucune notification",
  emptyTab: "Rien ici pour l'instant",
  loadOlder: "Afficher les plus anciennes",
  loading: "Chargement…",
  close: "Fermer",
  connectedClients: (n) => plural("fr", n, { one: "# connexion", other: "# connexions" }),
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
        ? `expiré depuis ${plural("fr", -d, { one: "# jour", other: "# jours" })}`
        : plural("fr", d, { one: "# jour restant", other: "# jours restants" }),
  counts: {
    unread: (n) => plural("fr", n, { one: "non lue", other: "non lues" }),
    emails: (n) => plural("fr", n, { one: "e-mail", other: "e-mails" }),
    deadlineAlerts: (n) => plural("fr", n, { one: "alerte de délai", other: "alertes de délai" }),
    connections: (n) => plural("fr", n, { one: "connexion du cabinet", other: "connexions du cabinet" }),
  },
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
  unreadItem: "unread",
  tabs: { all: "All", emails: "E-mails", dossiers: "Dossiers", deadlines: "Deadlines", system: "System" },
  markRead: "Mark as read",
  markAllRead: "Mark all as read",
  clear: "Clear",
  empty: "No notifications",
  emptyTab: "Nothing here yet",
  loadOlder: "Show older",
  loading: "Loading…",
  close: "Close",
  connectedClients: (n) => plural("en", n, { one: "# connection", other: "# connections" }),
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
        ? `overdue by ${plural("en", -d, { one: "# day", other: "# days" })}`
        : plural("en", d, { one: "# day left", other: "# days left" }),
  counts: {
    unread: () => "unread",
    emails: (n) => plural("en", n, { one: "e-mail", other: "e-mails" }),
    deadlineAlerts: (n) => plural("en", n, { one: "deadline alert", other: "deadline alerts" }),
    connections: (n) => plural("en", n, { one: "connection in the firm", other: "connections in the firm" }),
  },
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
