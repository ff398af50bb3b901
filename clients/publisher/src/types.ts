/**
 * What a publisher sends: the seed's four notification kinds (its `lib/websocket.ts`
 * interfaces), and what Tocsin answers.
 */

/** An id as the app holds it: Tocsin keeps it as a string (numbers are converted). */
export type Id = string | number;

/** A moment: a `Date` is sent as `toISOString()`; a string must be ISO 8601. */
export type Timestamp = Date | string;

/** Fields every kind has. */
export interface Common {
  /**
   * The app's own id of the subject (the seed's `email.id`, `dossier.id`). It repeats:
   * Tocsin delivers it as `sourceId` and gives each notification an `id` of its own.
   */
  id?: Id;
  /** When it happened; the server stamps a notification sent without one. */
  timestamp?: Timestamp;
  /** Up to three buttons; the user's `act {id, action}` records the one taken, once. */
  actions?: NotificationAction[];
  /** Never muted, ignores quiet hours (deadline `critical` and system `error` are anyway). */
  critical?: boolean;
}

/** A button on a notification (« Accuser réception »). */
export interface NotificationAction {
  /** At most 64 characters, unique among the notification's actions. */
  id: string;
  label: string;
  /** `https://…` or a path of the app (`/dossiers/42`). */
  url?: string;
  primary?: boolean;
}

/** `email-received`: a new e-mail for a user. */
export interface EmailReceived extends Common {
  subject: string;
  from: string;
  dossierNumber?: string;
  userId: Id;
  tenantId: Id;
}

/** `dossier-updated`: a dossier was created, updated, changed status or got a document. */
export interface DossierUpdated extends Common {
  dossierNumber: string;
  dossierTitle: string;
  action: "created" | "updated" | "status_changed" | "document_added";
  status?: string;
  userId: Id;
  tenantId: Id;
}

/** `deadline-alert`: a legal deadline is close or past. */
export interface DeadlineAlert extends Common {
  dossierNumber: string;
  message: string;
  urgency: "critical" | "urgent" | "warning" | "info";
  deadlineType: string;
  remainingDays: number;
  userId: Id;
  tenantId: Id;
}

/** `system-notification`: to `userId`, else to every user of `tenantId`, else to everyone. */
export interface SystemNotification extends Common {
  title: string;
  message: string;
  type: "info" | "success" | "warning" | "error";
  userId?: Id;
  tenantId?: Id;
}

/** Each event name and its payload. */
export interface Payloads {
  "email-received": EmailReceived;
  "dossier-updated": DossierUpdated;
  "deadline-alert": DeadlineAlert;
  "system-notification": SystemNotification;
}

export type EventName = keyof Payloads;

/** A payload whose audience is given apart (`emitToUser`, `emitToTenant`, `publish`). */
export type Audienceless<T> = Omit<T, "userId" | "tenantId"> & { userId?: Id; tenantId?: Id };

/**
 * What `publish` takes: a payload plus its `event`. Routing: `userId` (with `tenantId`) →
 * that user; no `userId` → the whole tenant; a `system-notification` with neither →
 * everyone (admin key only).
 */
export type Notification = {
  [E in EventName]: Audienceless<Payloads[E]> & { event: E };
}[EventName];

/** A cursor as the server sends it: an integer below 2^53, or an opaque string. */
export type Cursor = number | string;

/** A stored notification: Tocsin's own `id`, and its `cursor`. */
export interface PublishResult {
  id: string;
  cursor: Cursor;
  /**
   * True when Tocsin answered a retry with the first result (`Idempotent-Replayed`):
   * nothing new was created.
   */
  replayed: boolean;
}

/** One notification of a batch that was refused (the others stand). */
export interface BatchItemError {
  status: number;
  error: string;
  message: string;
  field?: string | null;
}

/** One result of `publishBatch`, in the order of the notifications. */
export type BatchResult = { id: string; cursor: Cursor } | BatchItemError;

/** Options of one `publish` or `publishBatch` call. */
export interface PublishOptions {
  /**
   * Makes the call safe to repeat: Tocsin answers a repeat with the first result. By default
   * each call gets a random one, reused by its own retries.
   */
  idempotencyKey?: string;
}
