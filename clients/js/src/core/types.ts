/**
 * The seed's four notification kinds, as Tocsin delivers them: the seed's fields plus
 * `sourceId`, `cursor` (opaque: send the last one back as `auth.since`), the inbox states
 * (`seen`, `read`, `archived`, `snoozedUntil`, `action`), `critical` and `actions`.
 */

/** A cursor as the server sends it: an integer below 2^53, or an opaque string. */
export type Cursor = number | string;

/** Fields every delivered notification carries. */
export interface Delivered {
  /** Tocsin's id of this notification: unique, what `markAsRead` takes. */
  id: string;
  /** The publisher's own `id` (the seed's e-mail or dossier id), when it gave one: it repeats. */
  sourceId?: string;
  /** ISO 8601, as the server sends it. */
  timestamp: string;
  cursor: Cursor;
  read: boolean;
  /** Shown in an open list (`mark-seen`). */
  seen: boolean;
  /** Out of the default inbox, in the Archive tab. */
  archived: boolean;
  /** ISO time until which the item is out of the inbox, or null when not snoozed. */
  snoozedUntil: string | null;
  /**
   * The id of the action taken (`act`), or null. Not `action`: the seed's `dossier-updated`
   * already has a field of that name (created, updated…).
   */
  actionTaken: string | null;
  /** When the action was taken (ISO), once one was. */
  actedAt?: string;
  /** Critical items notify whatever the preferences and quiet hours say. */
  critical: boolean;
  /** Buttons of the notification (0 to 3). */
  actions?: NotificationAction[];
}

/** A button of a notification: `act {id, action: action.id}` records it (once). */
export interface NotificationAction {
  id: string;
  label: string;
  /** Opened after the action is recorded: http(s) or a path starting with "/". */
  url?: string;
  primary?: boolean;
}

/** `email-received`. */
export interface EmailNotification extends Delivered {
  subject: string;
  from: string;
  dossierNumber?: string;
  userId: string;
  tenantId: string;
}

/** `dossier-updated`. */
export interface DossierNotification extends Delivered {
  dossierNumber: string;
  dossierTitle: string;
  action: "created" | "updated" | "status_changed" | "document_added";
  status?: string;
  userId: string;
  tenantId: string;
}

/** `deadline-alert`. */
export interface DeadlineAlert extends Delivered {
  dossierNumber: string;
  message: string;
  urgency: "critical" | "urgent" | "warning" | "info";
  deadlineType: string;
  remainingDays: number;
  userId: string;
  tenantId: string;
}

/** `system-notification`. */
export interface SystemNotification extends Delivered {
  title: string;
  message: string;
  type: "info" | "success" | "warning" | "error";
  userId?: string;
  tenantId?: string;
}

export const EMAIL_RECEIVED = "email-received";
export const DOSSIER_UPDATED = "dossier-updated";
export const DEADLINE_ALERT = "deadline-alert";
export const SYSTEM_NOTIFICATION = "system-notification";

/** The event names of the four kinds. */
export const NOTIFICATION_EVENTS = [
  EMAIL_RECEIVED,
  DOSSIER_UPDATED,
  DEADLINE_ALERT,
  SYSTEM_NOTIFICATION,
] as const;

export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** A notification together with the event it came as (inbox items carry it too). */
export type AnyNotification =
  | ({ event: typeof EMAIL_RECEIVED } & EmailNotification)
  | ({ event: typeof DOSSIER_UPDATED } & DossierNotification)
  | ({ event: typeof DEADLINE_ALERT } & DeadlineAlert)
  | ({ event: typeof SYSTEM_NOTIFICATION } & SystemNotification);

/** The seed's grouping, newest first in each list. */
export interface GroupedNotifications {
  emails: EmailNotification[];
  dossiers: DossierNotification[];
  deadlines: DeadlineAlert[];
  system: SystemNotification[];
}

/** `notifications-read`: read state changed in another tab or device. */
export interface NotificationsRead {
  ids: string[];
  all: boolean;
  unreadCount: number;
  upTo?: Cursor;
  cleared?: boolean;
}

/** `resync`: the replay was cut at its bound; page the inbox below `before`. */
export interface Resync {
  reason: string;
  since: Cursor;
  before?: Cursor;
}

/** A page of the inbox (HTTP `GET /api/v1/inbox` or the `inbox` socket event). */
export interface InboxPage {
  items: AnyNotification[];
  nextBefore: Cursor | null;
  unreadCount?: number;
  unseenCount?: number;
}

/** What changed in `notifications-changed`. */
export type ChangeKind = "seen" | "read" | "archived" | "unarchived" | "snoozed" | "unsnoozed" | "acted" | "cleared";

/**
 * `notifications-changed`: states changed in another tab or device. With `all`, the change
 * applies to every item up to `upTo` (archive-all with `onlyRead`: to the read ones only).
 */
export interface NotificationsChanged {
  ids: string[];
  all?: boolean;
  change: ChangeKind;
  unreadCount: number;
  unseenCount: number;
  upTo?: Cursor;
  /** `snoozed`: until when (ISO). */
  until?: string;
  /** `acted`: the action's id (and when, if the server says). */
  action?: string;
  actedAt?: string;
  onlyRead?: boolean;
}

/** `notification-due`: a snooze ended; the item is back, unread, on top. */
export type NotificationDue = AnyNotification & { unreadCount?: number; unseenCount?: number };

/** The server's counts (`counts` event, `GET /api/v1/inbox/counts`). */
export interface Counts {
  unread: number;
  unseen: number;
  total: number;
  archived: number;
  snoozed: number;
  byEvent: Record<string, { unread: number; total: number }>;
}

/** Where a notification can reach the user. */
export type Channel = "browser" | "push" | "email";
export const CHANNELS: readonly Channel[] = ["browser", "push", "email"];

/** Quiet hours: `start` > `end` spans midnight (the night belongs to the day it starts). */
export interface QuietHours {
  /** IANA time zone the times are in (e.g. Europe/Paris). */
  timezone: string;
  /** "HH:MM", 24-hour. */
  start: string;
  end: string;
  /** ISO weekdays, Monday = 1 … Sunday = 7. */
  days: number[];
}

export interface DigestPreferences {
  email: "off" | "daily";
  /** "HH:MM" in `timezone`. */
  at: string;
  timezone: string;
}

/** The user's effective preferences (tenant defaults under the user's own choices). */
export interface Preferences {
  events: Record<NotificationEvent, Record<Channel, boolean>>;
  quietHours: QuietHours | null;
  digest: DigestPreferences;
}

/** A partial update of the preferences (`set-preferences`, `PUT /api/v1/preferences`). */
export interface PreferencesUpdate {
  events?: Partial<Record<NotificationEvent, Partial<Record<Channel, boolean>>>>;
  quietHours?: QuietHours | null;
  digest?: Partial<DigestPreferences>;
}

/** `preferences-changed`: the user's document, or `{scope: "tenant"}` (refetch it). */
export interface PreferencesChanged {
  preferences?: Preferences;
  scope?: "tenant" | "user";
}

/**
 * The defaults before the server's arrive: they reproduce the seed's browser policy (e-mails
 * notify, critical items always do, nothing else).
 */
export const DEFAULT_PREFERENCES: Preferences = {
  events: {
    "email-received": { browser: true, push: true, email: false },
    "dossier-updated": { browser: false, push: false, email: false },
    "deadline-alert": { browser: false, push: true, email: true },
    "system-notification": { browser: false, push: false, email: false },
  },
  quietHours: null,
  digest: { email: "off", at: "08:00", timezone: "Europe/Paris" },
};
