/**
 * The seed's four notification kinds, as Tocsin delivers them: the seed's fields plus
 * `sourceId`, `cursor` (opaque: send the last one back as `auth.since`) and `read`.
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
}
