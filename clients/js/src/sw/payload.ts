/**
 * What a push carries (DESIGN §8: `{id, event, title, body, url?, critical, unreadCount}`)
 * and the notification the service worker shows for it.
 *
 * The tag is `tocsin:<id>`, the one the page's own browser notifications use: a push that
 * arrives while a tab has already shown the item replaces that notification instead of
 * showing it twice.
 */
import { safeActionUrl } from "../core/item.js";

/** A push's payload, checked. */
export interface PushPayload {
  id: string;
  event: string;
  title: string;
  body: string;
  url: string | null;
  critical: boolean;
  /** The user's unread count when the push was sent (for the app badge), or null. */
  unreadCount: number | null;
}

/** What is kept on a shown notification (`notification.data`). */
export interface NotificationData {
  id: string | null;
  url: string | null;
}

/** The arguments of `registration.showNotification`. */
export interface NotificationSpec {
  title: string;
  options: NotificationOptions & { data: NotificationData };
}

/** Shown when a push cannot be read: a push must show something (`userVisibleOnly`). */
const FALLBACK = {
  fr: { title: "Tocsin", body: "Nouvelle notification" },
  en: { title: "Tocsin", body: "New notification" },
};

/** The prefix of a notification's tag, shared with the page's notifications. */
export const TAG_PREFIX = "tocsin:";

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The payload of a push (its data as text), or null when it is not one of Tocsin's. */
export function parsePushPayload(data: string | null): PushPayload | null {
  if (!data) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return null;
  }
  if (!raw || typeof raw !== "object") return null;
  const fields = raw as Record<string, unknown>;
  const id = text(fields.id);
  if (!id) return null;
  const count = fields.unreadCount;
  return {
    id,
    event: text(fields.event),
    title: text(fields.title),
    body: text(fields.body),
    url: safeActionUrl(fields.url),
    critical: fields.critical === true,
    unreadCount: typeof count === "number" && Number.isFinite(count) && count >= 0 ? Math.floor(count) : null,
  };
}

/**
 * The notification for a payload (null: an unreadable push, shown with a generic text in
 * `language`). `icon`: the worker's default icon, if it was given one.
 */
export function notificationFor(payload: PushPayload | null, icon: string | null, language = "fr"): NotificationSpec {
  const fallback = language.toLowerCase().startsWith("en") ? FALLBACK.en : FALLBACK.fr;
  const options: NotificationSpec["options"] = payload
    ? {
        body: payload.body,
        tag: TAG_PREFIX + payload.id,
        requireInteraction: payload.critical,
        data: { id: payload.id, url: payload.url },
      }
    : { body: fallback.body, data: { id: null, url: null } };
  if (icon) options.icon = icon;
  return { title: payload?.title || fallback.title, options };
}

/** What a clicked notification carries, whatever put it there. */
export function dataOf(notification: { data?: unknown }): NotificationData {
  const data = notification.data;
  if (!data || typeof data !== "object") return { id: null, url: null };
  const fields = data as Record<string, unknown>;
  return { id: text(fields.id) || null, url: safeActionUrl(fields.url) };
}
