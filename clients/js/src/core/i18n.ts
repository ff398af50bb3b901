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

/** Texts of the snooze menu. */
export interface SnoozeTexts {
  /** The menu button's name: « Mettre en attente : <title> ». */
  button: string;
  inOneHour: string;
  tomorrow: string;
  monday: string;
  pick: string;
  pickLabel: string;
  confirm: string;
  cancel: string;
  invalid: string;
  /** The state of a snoozed item: « En attente jusqu'à lundi 9:00 ». */
  until: (when: string) => string;
  /** The same, briefly, in the list of snoozed items: « jusqu'à lun. 9:00 ». */
  untilShort: (when: string) => string;
  /** The button that ends a snooze now (its name adds the item's title). */
  wake: string;
}

/** Texts of the preferences view. */
export interface PreferencesTexts {
  title: string;
  open: string;
  back: string;
  perKind: string;
  kind: string;
  channels: { browser: string; push: string; email: string };
  kinds: Record<"email-received" | "dossier-updated" | "deadline-alert" | "system-notification", string>;
  /** A checkbox's name: « Délais : navigateur ». */
  channelOf: (kind: string, channel: string) => string;
  criticalNote: string;
  quietHours: string;
  quietEnabled: string;
  from: string;
  to: string;
  days: string;
  /** Monday first, as ISO weekdays. */
  weekdays: { short: string; long: string }[];
  timezone: (zone: string) => string;
  digest: string;
  digestOff: string;
  digestDaily: string;
  digestAt: string;
  saved: string;
  failed: string;
  /** Quiet hours the server would refuse: start = end, or no day. */
  quietInvalid: string;
}

/** Texts of the control that turns notifications on (browser permission and Web Push). */
export interface PushTexts {
  heading: string;
  enable: string;
  enabling: string;
  /** Under the button: what it brings. */
  hint: string;
  enabled: string;
  disable: string;
  /** Notifications allowed, push not available: they reach open tabs only. */
  browserOnly: string;
  denied: string;
  unsupported: string;
  notConfigured: string;
  failed: string;
  /** The service worker could not be registered (e.g. the app does not serve it). */
  workerFailed: string;
  refused: string;
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
  /** The Archive tab's label (its test id is `tocsin-tab-archive`). */
  archiveTab: string;
  archive: string;
  unarchive: string;
  archiveAll: string;
  archivedEmpty: string;
  /** The Archive tab's sections: the snoozed items, then the archived ones. */
  snoozedHeading: string;
  archivedHeading: string;
  snooze: SnoozeTexts;
  /** The group of a notification's action buttons. */
  actionsGroup: string;
  /** What an item shows once an action was taken (`acknowledge` has its own words). */
  acted: (label: string, actionId: string) => string;
  /** Read out when a snoozed notification comes back. */
  announceDue: string;
  /** Read out once an item left the list: « <titre> : archivée ». */
  announceArchived: string;
  announceUnarchived: string;
  /** Read out once « Réveiller maintenant » put an item back: « <titre> : de retour dans la boîte ». */
  announceUnsnoozed: string;
  actionFailed: string;
  prefs: PreferencesTexts;
  push: PushTexts;
}

/** Action ids whose taken state reads « Réception accusée » rather than the button's label. */
const ACKNOWLEDGE = new Set(["acknowledge", "ack", "acknowledged", "accuser-reception"]);

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
  archiveTab: "Archives",
  archive: "Archiver",
  unarchive: "Désarchiver",
  archiveAll: "Tout archiver",
  archivedEmpty: "Aucune notification archivée",
  snoozedHeading: "Reportées",
  archivedHeading: "Archivées",
  snooze: {
    button: "Mettre en attente",
    inOneHour: "Dans 1 heure",
    tomorrow: "Demain 9 h",
    monday: "Lundi 9 h",
    pick: "Choisir une date…",
    pickLabel: "Date et heure du rappel",
    confirm: "Mettre en attente",
    cancel: "Annuler",
    invalid: "Choisissez un moment à venir.",
    until: (when) => `En attente jusqu'à ${when}`,
    untilShort: (when) => `jusqu'à ${when}`,
    wake: "Réveiller maintenant",
  },
  actionsGroup: "Actions",
  acted: (label, id) => (ACKNOWLEDGE.has(id) ? "Réception accusée" : `Fait : ${label}`),
  announceDue: "Rappel",
  announceArchived: "archivée",
  announceUnarchived: "remise dans la boîte",
  announceUnsnoozed: "de retour dans la boîte",
  actionFailed: "L'action n'a pas abouti",
  push: {
    heading: "Notifications push",
    enable: "Activer les notifications",
    enabling: "Activation…",
    hint: "Pour être prévenu même quand aucun onglet n'est ouvert.",
    enabled: "Notifications push activées",
    disable: "Désactiver",
    browserOnly: "Notifications du navigateur activées : elles vous parviennent tant qu'un onglet est ouvert.",
    denied: "Les notifications sont bloquées pour ce site : autorisez-les dans les réglages du navigateur.",
    unsupported: "Ce navigateur ne reçoit pas de notifications push : vous êtes prévenu tant qu'un onglet est ouvert.",
    notConfigured:
      "Les notifications push ne sont pas configurées sur ce serveur : vous êtes prévenu tant qu'un onglet est ouvert.",
    failed: "Ce navigateur n'a pas pu s'abonner aux notifications push : vous êtes prévenu tant qu'un onglet est ouvert.",
    workerFailed:
      "Les notifications push n'ont pas pu être activées sur ce site (service worker indisponible) : vous êtes prévenu tant qu'un onglet est ouvert.",
    refused: "L'abonnement push n'a pas pu être enregistré. Réessayez plus tard.",
  },
  prefs: {
    title: "Préférences",
    open: "Préférences de notification",
    back: "Retour aux notifications",
    perKind: "Où vous prévenir, par type",
    kind: "Type",
    channels: { browser: "Navigateur", push: "Push", email: "E-mail" },
    kinds: {
      "email-received": "E-mails",
      "dossier-updated": "Dossiers",
      "deadline-alert": "Délais",
      "system-notification": "Système",
    },
    channelOf: (kind, channel) => `${kind} : ${channel.toLowerCase()}`,
    criticalNote:
      "Les alertes critiques (délais critiques, erreurs système) vous préviennent toujours, même coupées ou en heures calmes. La liste reçoit tout.",
    quietHours: "Heures calmes",
    quietEnabled: "Activer les heures calmes",
    from: "De",
    to: "à",
    days: "Jours",
    weekdays: [
      { short: "Lu", long: "lundi" },
      { short: "Ma", long: "mardi" },
      { short: "Me", long: "mercredi" },
      { short: "Je", long: "jeudi" },
      { short: "Ve", long: "vendredi" },
      { short: "Sa", long: "samedi" },
      { short: "Di", long: "dimanche" },
    ],
    timezone: (zone) => `Fuseau horaire : ${zone}`,
    digest: "Résumé quotidien",
    digestOff: "Désactivé",
    digestDaily: "Chaque jour par e-mail",
    digestAt: "Heure d'envoi",
    saved: "Préférences enregistrées",
    failed: "Les préférences n'ont pas été enregistrées",
    quietInvalid: "Les heures calmes demandent une fin différente du début et au moins un jour.",
  },
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
  archiveTab: "Archive",
  archive: "Archive",
  unarchive: "Unarchive",
  archiveAll: "Archive all",
  archivedEmpty: "No archived notifications",
  snoozedHeading: "Snoozed",
  archivedHeading: "Archived",
  snooze: {
    button: "Snooze",
    inOneHour: "In 1 hour",
    tomorrow: "Tomorrow, 9 am",
    monday: "Monday, 9 am",
    pick: "Pick a date…",
    pickLabel: "Remind me on",
    confirm: "Snooze",
    cancel: "Cancel",
    invalid: "Pick a time in the future.",
    until: (when) => `Snoozed until ${when}`,
    untilShort: (when) => `until ${when}`,
    wake: "Unsnooze",
  },
  actionsGroup: "Actions",
  acted: (label, id) => (ACKNOWLEDGE.has(id) ? "Receipt acknowledged" : `Done: ${label}`),
  announceDue: "Reminder",
  announceArchived: "archived",
  announceUnarchived: "back in the inbox",
  announceUnsnoozed: "back in the inbox",
  actionFailed: "The action did not go through",
  push: {
    heading: "Push notifications",
    enable: "Turn on notifications",
    enabling: "Turning on…",
    hint: "To be told even when no tab is open.",
    enabled: "Push notifications on",
    disable: "Turn off",
    browserOnly: "Browser notifications on: they reach you while a tab is open.",
    denied: "Notifications are blocked for this site: allow them in the browser's settings.",
    unsupported: "This browser does not receive push notifications: you are told while a tab is open.",
    notConfigured: "Push notifications are not set up on this server: you are told while a tab is open.",
    failed: "This browser could not subscribe to push notifications: you are told while a tab is open.",
    workerFailed: "Push notifications could not start on this site (no service worker): you are told while a tab is open.",
    refused: "The push subscription could not be saved. Try again later.",
  },
  prefs: {
    title: "Preferences",
    open: "Notification preferences",
    back: "Back to notifications",
    perKind: "Where to reach you, by kind",
    kind: "Kind",
    channels: { browser: "Browser", push: "Push", email: "E-mail" },
    kinds: {
      "email-received": "E-mails",
      "dossier-updated": "Dossiers",
      "deadline-alert": "Deadlines",
      "system-notification": "System",
    },
    channelOf: (kind, channel) => `${kind}: ${channel.toLowerCase()}`,
    criticalNote:
      "Critical alerts (critical deadlines, system errors) always reach you, even when muted or in quiet hours. The list gets everything.",
    quietHours: "Quiet hours",
    quietEnabled: "Turn on quiet hours",
    from: "From",
    to: "to",
    days: "Days",
    weekdays: [
      { short: "Mo", long: "Monday" },
      { short: "Tu", long: "Tuesday" },
      { short: "We", long: "Wednesday" },
      { short: "Th", long: "Thursday" },
      { short: "Fr", long: "Friday" },
      { short: "Sa", long: "Saturday" },
      { short: "Su", long: "Sunday" },
    ],
    timezone: (zone) => `Time zone: ${zone}`,
    digest: "Daily digest",
    digestOff: "Off",
    digestDaily: "Every day by e-mail",
    digestAt: "Send at",
    saved: "Preferences saved",
    failed: "The preferences were not saved",
    quietInvalid: "Quiet hours need an end different from the start, and at least one day.",
  },
};

/** The texts of a locale (French unless `en`). */
export function messages(locale: Locale | string | undefined): Messages {
  return typeof locale === "string" && locale.toLowerCase().startsWith("en") ? en : fr;
}
