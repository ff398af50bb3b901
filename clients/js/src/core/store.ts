/**
 * The client's notifications, unread count and last cursor: pure bookkeeping, no I/O.
 *
 * Unread count: the server's count is the truth whenever one arrives (inbox page,
 * `mark-read` ack, `notifications-read`); in between, a new unread notification adds one
 * only if its cursor is above what that count already covered (`countedUpTo`), so a
 * notification that arrives right after a count that included it is not counted twice.
 */
import { compareCursor, isCursor, maxCursor } from "./cursor.js";
import {
  DEADLINE_ALERT,
  DOSSIER_UPDATED,
  EMAIL_RECEIVED,
  SYSTEM_NOTIFICATION,
  type AnyNotification,
  type Cursor,
  type GroupedNotifications,
  type NotificationsRead,
} from "./types.js";

/** Where a notification came from: a live or replayed event, or an inbox page. */
export type Source = "live" | "page";

const EMPTY_GROUPS: GroupedNotifications = { emails: [], dossiers: [], deadlines: [], system: [] };

export class NotificationStore {
  /** Newest first, by cursor. */
  private items: AnyNotification[] = [];
  private readonly byId = new Map<string, AnyNotification>();
  private grouped: GroupedNotifications = EMPTY_GROUPS;
  private groupedStale = false;
  /** The highest cursor received: sent back as `auth.since` on every reconnect. */
  since: Cursor | null = null;
  unreadCount = 0;
  /** The newest cursor the last server-given unread count already included. */
  private countedUpTo: Cursor | null = null;
  /** Whether the inbox has items older than the oldest held. */
  hasOlder = false;

  constructor(private readonly maxItems = 500) {}

  /** All held notifications, newest first. */
  all(): readonly AnyNotification[] {
    return this.items;
  }

  /** The notification with this id, if held. */
  get(id: string): AnyNotification | undefined {
    return this.byId.get(id);
  }

  /** The oldest cursor held (where `before` starts when paging older items). */
  oldestCursor(): Cursor | null {
    const last = this.items[this.items.length - 1];
    return last ? last.cursor : null;
  }

  /**
   * Add one notification; duplicates (same id) are ignored, except that an inbox page
   * refreshes the read flag. Returns true when the notification was new.
   */
  add(note: AnyNotification, source: Source): boolean {
    if (!note || typeof note.id !== "string" || !isCursor(note.cursor)) return false;
    const known = this.byId.get(note.id);
    if (known) {
      if (source === "page" && known.read !== Boolean(note.read)) {
        this.replace({ ...known, read: Boolean(note.read) } as AnyNotification);
      }
      return false;
    }
    const item = { ...note, read: Boolean(note.read) } as AnyNotification;
    this.byId.set(item.id, item);
    this.insertSorted(item);
    this.since = maxCursor(this.since, item.cursor);
    const counted = this.countedUpTo !== null && compareCursor(item.cursor, this.countedUpTo) <= 0;
    if (source === "live" && !item.read && !counted) this.unreadCount += 1;
    this.trim();
    return true;
  }

  /**
   * Take the server's unread count, which covers notifications up to `coveredUpTo` (by
   * default: the newest cursor held; `null`: none). Unread notifications held here with a
   * newer cursor (live events that overtook the count's answer) are added on top.
   */
  setUnreadCount(count: number, coveredUpTo: Cursor | null = this.since): void {
    if (typeof count !== "number" || !Number.isFinite(count)) return;
    let newer = 0;
    for (const item of this.items) {
      if (!item.read && (coveredUpTo === null || compareCursor(item.cursor, coveredUpTo) > 0)) {
        newer += 1;
      }
    }
    this.unreadCount = Math.max(0, Math.trunc(count)) + newer;
    this.countedUpTo = maxCursor(this.countedUpTo, maxCursor(coveredUpTo, this.since));
  }

  /** Mark ids read here (before the server confirms). Returns those that were unread. */
  markRead(ids: readonly string[]): string[] {
    const changed: string[] = [];
    for (const id of ids) {
      const item = this.byId.get(id);
      if (item && !item.read) {
        this.replace({ ...item, read: true } as AnyNotification);
        changed.push(id);
      }
    }
    this.unreadCount = Math.max(0, this.unreadCount - changed.length);
    return changed;
  }

  /** Mark everything (up to a cursor) read. */
  markAllRead(upTo?: Cursor): void {
    for (const item of this.items) {
      if (!item.read && (upTo === undefined || compareCursor(item.cursor, upTo) <= 0)) {
        this.replace({ ...item, read: true } as AnyNotification);
      }
    }
    if (upTo === undefined) this.unreadCount = 0;
  }

  /** Forget everything (up to a cursor): the inbox was cleared. */
  clear(upTo?: Cursor): void {
    const keep = this.items.filter(
      (item) => upTo !== undefined && compareCursor(item.cursor, upTo) > 0,
    );
    for (const item of this.items) if (!keep.includes(item)) this.byId.delete(item.id);
    this.items = keep;
    this.groupedStale = true;
    if (upTo === undefined) this.unreadCount = 0;
    this.hasOlder = false;
  }

  /** Mirror a `notifications-read` event from another tab or device. */
  applyRead(event: NotificationsRead): void {
    if (!event || typeof event !== "object") return;
    const upTo = isCursor(event.upTo) ? event.upTo : undefined;
    if (event.cleared) this.clear(upTo);
    else if (event.all) this.markAllRead(upTo);
    if (Array.isArray(event.ids)) this.markRead(event.ids.map(String));
    this.setUnreadCount(event.unreadCount);
  }

  /** The seed's grouping, newest first (the same arrays until something changes). */
  groups(): GroupedNotifications {
    if (!this.groupedStale) return this.grouped;
    const groups: GroupedNotifications = { emails: [], dossiers: [], deadlines: [], system: [] };
    for (const item of this.items) {
      switch (item.event) {
        case EMAIL_RECEIVED:
          groups.emails.push(item);
          break;
        case DOSSIER_UPDATED:
          groups.dossiers.push(item);
          break;
        case DEADLINE_ALERT:
          groups.deadlines.push(item);
          break;
        case SYSTEM_NOTIFICATION:
          groups.system.push(item);
          break;
      }
    }
    this.grouped = groups;
    this.groupedStale = false;
    return groups;
  }

  private replace(item: AnyNotification): void {
    this.byId.set(item.id, item);
    this.items = this.items.map((other) => (other.id === item.id ? item : other));
    this.groupedStale = true;
  }

  private insertSorted(item: AnyNotification): void {
    // Usually the newest: a scan from the front is enough.
    let index = 0;
    while (index < this.items.length && compareCursor(this.items[index]!.cursor, item.cursor) > 0) {
      index += 1;
    }
    this.items = [...this.items.slice(0, index), item, ...this.items.slice(index)];
    this.groupedStale = true;
  }

  private trim(): void {
    if (this.items.length <= this.maxItems) return;
    for (const dropped of this.items.slice(this.maxItems)) this.byId.delete(dropped.id);
    this.items = this.items.slice(0, this.maxItems);
    this.hasOlder = true;
    this.groupedStale = true;
  }
}
