/**
 * One inbox item's states, as the store keeps them: the server's fields made total (a seed
 * server or an old replay may leave the new ones out) and read the same way everywhere.
 */
import type { AnyNotification, NotificationAction } from "./types.js";

const MAX_ACTIONS = 3;

/** Whether the item shows in the default inbox: neither archived nor snoozed. */
export function inInbox(item: AnyNotification): boolean {
  return !item.archived && item.snoozedUntil === null;
}

/** The id of the action the user took on this item (`actionTaken`), or null. */
export function takenAction(item: AnyNotification): string | null {
  const taken = (item as { actionTaken?: unknown }).actionTaken;
  return typeof taken === "string" && taken ? taken : null;
}

/** The seed's idea of urgent, for servers that do not say `critical`. */
function seedCritical(item: AnyNotification): boolean {
  return (
    (item.event === "deadline-alert" && item.urgency === "critical") ||
    (item.event === "system-notification" && item.type === "error")
  );
}

/** Whether a link of an action may be followed: http(s) or a path of this site. */
export function safeActionUrl(url: unknown): string | null {
  if (typeof url !== "string" || !url) return null;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return /^https?:\/\//i.test(url) ? url : null;
}

function actionsOf(value: unknown): NotificationAction[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const actions: NotificationAction[] = [];
  for (const raw of value) {
    if (actions.length === MAX_ACTIONS) break;
    if (!raw || typeof raw !== "object") continue;
    const { id, label, url, primary } = raw as Record<string, unknown>;
    if (typeof id !== "string" || !id || typeof label !== "string" || !label) continue;
    const action: NotificationAction = { id, label };
    const safe = safeActionUrl(url);
    if (safe) action.url = safe;
    if (primary === true) action.primary = true;
    actions.push(action);
  }
  return actions;
}

/**
 * The item with every state present: booleans (read implies seen, as on the server),
 * `snoozedUntil` and `actionTaken` null when absent, `critical` (the seed's when absent).
 */
export function normalise(note: AnyNotification): AnyNotification {
  const raw = note as unknown as Record<string, unknown>;
  const item = {
    ...note,
    read: raw.read === true,
    seen: raw.seen === true || raw.read === true,
    archived: raw.archived === true,
    snoozedUntil: typeof raw.snoozedUntil === "string" && raw.snoozedUntil ? raw.snoozedUntil : null,
    actionTaken: typeof raw.actionTaken === "string" && raw.actionTaken ? raw.actionTaken : null,
  } as AnyNotification;
  item.critical = typeof raw.critical === "boolean" ? raw.critical : seedCritical(item);
  if (typeof raw.actedAt !== "string" || !raw.actedAt) delete (item as { actedAt?: string }).actedAt;
  const actions = actionsOf(raw.actions);
  if (actions) item.actions = actions;
  else delete (item as { actions?: unknown }).actions;
  return item;
}

/** Whether two versions of an item differ in a state the list shows. */
export function sameStates(a: AnyNotification, b: AnyNotification): boolean {
  return (
    a.read === b.read &&
    a.seen === b.seen &&
    a.archived === b.archived &&
    a.snoozedUntil === b.snoozedUntil &&
    a.actionTaken === b.actionTaken &&
    a.actedAt === b.actedAt &&
    a.critical === b.critical &&
    JSON.stringify(a.actions ?? null) === JSON.stringify(b.actions ?? null)
  );
}
