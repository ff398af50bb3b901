/**
 * The client's notifications, their states, counts and last cursor: pure bookkeeping, no I/O.
 *
 * Every held item keeps its states (`seen`, `read`, `archived`, `snoozedUntil`, `actionTaken`);
 * the default list shows those neither archived nor snoozed, the Archive tab the snoozed
 * and the archived ones. The list is newest first by cursor, except that an item whose snooze ended comes
 * back on top of everything held at that moment (its cursor is old) and stays there until
 * newer notifications arrive.
 *
 * Counts: the server's `unreadCount` and `unseenCount` are the truth whenever they arrive
 * (inbox page, an ack, `notifications-changed`, `notification-due`); in between, a new
 * notification adds one only if its cursor is above what those counts already covered
 * (`countedUpTo`), and a local change adds or takes away what it changes in the inbox.
 */
import { compareCursor, isCursor, maxCursor } from "./cursor.js";
import { inInbox, normalise, sameStates } from "./item.js";
import {
  DEADLINE_ALERT,
  DOSSIER_UPDATED,
  EMAIL_RECEIVED,
  SYSTEM_NOTIFICATION,
  type AnyNotification,
  type Cursor,
  type GroupedNotifications,
  type NotificationsChanged,
  type NotificationsRead,
} from "./types.js";

/** Where a notification came from: a live or replayed event, or an inbox page. */
export type Source = "live" | "page";

/** What a change did: the items as they were before it (to undo it), and ids not held. */
export interface Applied {
  previous: AnyNotification[];
  unknown: string[];
}

interface Views {
  inbox: AnyNotification[];
  archived: AnyNotification[];
  snoozed: AnyNotification[];
  groups: GroupedNotifications;
}

/** Back on top after a snooze: above every cursor up to `anchor`, latest first. */
interface Bump {
  anchor: Cursor;
  seq: number;
}

const isSnoozed = (item: AnyNotification): boolean => !item.archived && item.snoozedUntil !== null;
const unreadIn = (item: AnyNotification | undefined): number => (item && inInbox(item) && !item.read ? 1 : 0);
const unseenIn = (item: AnyNotification | undefined): number => (item && inInbox(item) && !item.seen ? 1 : 0);

export class NotificationStore {
  /** Every held item in display order (inbox, archived and snoozed together). */
  private items: AnyNotification[] = [];
  private readonly byId = new Map<string, AnyNotification>();
  private readonly bumps = new Map<string, Bump>();
  private bumpSeq = 0;
  private views: Views | null = null;
  /** The highest cursor received: sent back as `auth.since` on every reconnect. */
  since: Cursor | null = null;
  unreadCount = 0;
  unseenCount = 0;
  /** The newest cursor the last server-given counts already included. */
  private countedUpTo: Cursor | null = null;
  /** Whether the inbox has items older than the oldest held. */
  hasOlder = false;
  /** Whether the archive's first page was loaded, and whether it has older items than held. */
  archivedLoaded = false;
  archivedHasOlder = false;
  /** The same for the snoozed items. */
  snoozedLoaded = false;
  snoozedHasOlder = false;

  constructor(private readonly maxItems = 500) {}

  /** The default inbox (neither archived nor snoozed), in display order. */
  all(): readonly AnyNotification[] {
    return this.view().inbox;
  }

  /** The archived items held, newest first. */
  archived(): readonly AnyNotification[] {
    return this.view().archived;
  }

  /** The snoozed items held, newest first. */
  snoozed(): readonly AnyNotification[] {
    return this.view().snoozed;
  }

  /** Every held item, whatever its state. */
  held(): readonly AnyNotification[] {
    return this.items;
  }

  /** The notification with this id, if held. */
  get(id: string): AnyNotification | undefined {
    return this.byId.get(id);
  }

  /** The oldest cursor of the default inbox held (where `before` starts when paging). */
  oldestCursor(): Cursor | null {
    return this.oldest((item) => inInbox(item) && !this.bumps.has(item.id));
  }

  /** The oldest cursor of the archive held. */
  oldestArchivedCursor(): Cursor | null {
    return this.oldest((item) => item.archived);
  }

  /** The oldest cursor of the snoozed items held. */
  oldestSnoozedCursor(): Cursor | null {
    return this.oldest(isSnoozed);
  }

  /** The snoozed items held and until when, as a page of them is asked for (see `reconcileSnoozed`). */
  snoozedNow(): ReadonlyMap<string, string> {
    return new Map(this.view().snoozed.map((item) => [item.id, item.snoozedUntil ?? ""]));
  }

  /**
   * Add one notification; duplicates (same id) are ignored, except that an inbox page
   * refreshes the states. Returns true when the notification was new.
   */
  add(note: AnyNotification, source: Source): boolean {
    if (!note || typeof note.id !== "string" || !isCursor(note.cursor)) return false;
    const known = this.byId.get(note.id);
    if (known) {
      if (source === "page") {
        const fresh = normalise({ ...known, ...note } as AnyNotification);
        if (!sameStates(known, fresh)) this.replace(fresh);
      }
      return false;
    }
    const item = normalise(note);
    this.byId.set(item.id, item);
    this.insertSorted(item);
    this.since = maxCursor(this.since, item.cursor);
    const counted = this.countedUpTo !== null && compareCursor(item.cursor, this.countedUpTo) <= 0;
    if (source === "live" && !counted) {
      this.unreadCount += unreadIn(item);
      this.unseenCount += unseenIn(item);
    }
    this.trim();
    return true;
  }

  /**
   * Take the server's unread count, which covers notifications up to `coveredUpTo` (by
   * default: the newest cursor held; `null`: none). Unread notifications held here with a
   * newer cursor (live events that overtook the count's answer) are added on top.
   */
  setUnreadCount(count: number, coveredUpTo: Cursor | null = this.since): void {
    this.setCounts(count, undefined, coveredUpTo);
  }

  /** Take the server's unread and unseen counts (either may be missing), as `setUnreadCount`. */
  setCounts(unread: unknown, unseen: unknown, coveredUpTo: Cursor | null = this.since): void {
    const valid = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);
    if (!valid(unread) && !valid(unseen)) return;
    let newerUnread = 0;
    let newerUnseen = 0;
    for (const item of this.items) {
      if (coveredUpTo === null || compareCursor(item.cursor, coveredUpTo) > 0) {
        newerUnread += unreadIn(item);
        newerUnseen += unseenIn(item);
      }
    }
    if (valid(unread)) this.unreadCount = Math.max(0, Math.trunc(unread)) + newerUnread;
    if (valid(unseen)) this.unseenCount = Math.max(0, Math.trunc(unseen)) + newerUnseen;
    this.countedUpTo = maxCursor(this.countedUpTo, maxCursor(coveredUpTo, this.since));
  }

  /** Mark ids read here (before the server confirms). Returns those that were unread. */
  markRead(ids: readonly string[]): string[] {
    return this.patchEach(ids, (item) => (item.read ? null : { read: true, seen: true })).map((item) => item.id);
  }

  /** Mark ids seen here. Returns those that were unseen. */
  markSeen(ids: readonly string[]): string[] {
    return this.patchEach(ids, (item) => (item.seen ? null : { seen: true })).map((item) => item.id);
  }

  /** Mark everything (up to a cursor) read. */
  markAllRead(upTo?: Cursor): AnyNotification[] {
    const previous = this.patchUpTo(upTo, (item) => (item.read ? null : { read: true, seen: true }));
    if (upTo === undefined) this.unreadCount = 0;
    return previous;
  }

  /** Forget everything (up to a cursor): the inbox was cleared. */
  clear(upTo?: Cursor): void {
    const gone = this.items.filter((item) => upTo === undefined || compareCursor(item.cursor, upTo) <= 0);
    this.forget(gone.map((item) => item.id));
    if (upTo === undefined) {
      this.unreadCount = 0;
      this.unseenCount = 0;
    }
    this.hasOlder = false;
  }

  /** Archive ids here (which ends their snooze); returns the items as they were. */
  archive(ids: readonly string[]): AnyNotification[] {
    return this.patchEach(ids, (item) => (item.archived ? null : { archived: true, snoozedUntil: null }));
  }

  /** Take ids out of the archive; returns the items as they were. */
  unarchive(ids: readonly string[]): AnyNotification[] {
    return this.patchEach(ids, (item) => (item.archived ? { archived: false } : null));
  }

  /** Archive the inbox up to a cursor (only its read items with `onlyRead`; snoozed ones stay). */
  archiveAll(upTo?: Cursor, onlyRead = false): AnyNotification[] {
    const previous = this.patchUpTo(upTo, (item) => (!inInbox(item) || (onlyRead && !item.read) ? null : { archived: true }));
    if (upTo === undefined && !onlyRead) {
      this.unreadCount = 0;
      this.unseenCount = 0;
    }
    return previous;
  }

  /** Snooze ids until an ISO time (out of the archive, if there); returns the items as they were. */
  snooze(ids: readonly string[], until: string): AnyNotification[] {
    return this.patchEach(ids, (item) => (item.snoozedUntil === until ? null : { snoozedUntil: until, archived: false }));
  }

  /** End the snooze of ids here; returns the items as they were. */
  unsnooze(ids: readonly string[]): AnyNotification[] {
    return this.patchEach(ids, (item) => (item.snoozedUntil === null ? null : { snoozedUntil: null }));
  }

  /** Record an action taken (which also reads the item); returns the items as they were. */
  act(id: string, action: string, actedAt: string = new Date().toISOString()): AnyNotification[] {
    return this.patchEach([id], (item) =>
      item.actionTaken === action && item.read ? null : { actionTaken: action, actedAt, read: true, seen: true },
    );
  }

  /** Put items back as they were (a change the server refused). */
  restore(previous: readonly AnyNotification[]): void {
    for (const item of previous) if (this.byId.has(item.id)) this.update(item);
  }

  /**
   * A snooze ended: the item comes back unread and unseen, on top of everything held now.
   * Returns the item as held.
   */
  due(note: AnyNotification): AnyNotification | null {
    if (!note || typeof note.id !== "string" || !isCursor(note.cursor)) return null;
    const known = this.byId.get(note.id);
    const item = normalise({
      ...(known ?? {}),
      ...note,
      read: false,
      seen: false,
      archived: false,
      snoozedUntil: null,
    } as AnyNotification);
    this.bumpSeq += 1;
    this.bumps.set(item.id, { anchor: maxCursor(this.since, item.cursor) ?? item.cursor, seq: this.bumpSeq });
    if (known) {
      this.items = this.items.filter((other) => other.id !== item.id);
      this.adjustCounts(known, item);
    } else {
      this.unreadCount += unreadIn(item);
      this.unseenCount += unseenIn(item);
    }
    this.byId.set(item.id, item);
    this.insertSorted(item);
    this.since = maxCursor(this.since, item.cursor);
    return item;
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

  /**
   * Mirror a `notifications-changed` event from another tab or device, then take its counts.
   * Returns the ids it names that are not held (the caller may fetch them).
   */
  applyChange(event: NotificationsChanged): string[] {
    if (!event || typeof event !== "object") return [];
    const ids = Array.isArray(event.ids) ? event.ids.map(String) : [];
    const unknown = ids.filter((id) => !this.byId.has(id));
    const upTo = isCursor(event.upTo) ? event.upTo : undefined;
    const all = event.all === true;
    switch (event.change) {
      case "seen":
        if (all) this.patchUpTo(upTo, (item) => (item.seen ? null : { seen: true }));
        this.markSeen(ids);
        break;
      case "read":
        if (all) this.markAllRead(upTo);
        this.markRead(ids);
        break;
      case "archived":
        if (all) this.archiveAll(upTo, event.onlyRead === true);
        this.archive(ids);
        break;
      case "unarchived":
        this.unarchive(ids);
        break;
      case "snoozed":
        if (typeof event.until === "string" && event.until) this.snooze(ids, event.until);
        break;
      case "unsnoozed":
        this.unsnooze(ids);
        break;
      case "acted":
        if (typeof event.action === "string") {
          for (const id of ids) this.act(id, event.action, event.actedAt);
        }
        break;
      case "cleared":
        if (all) this.clear(upTo);
        this.forget(ids);
        break;
    }
    this.setCounts(event.unreadCount, event.unseenCount);
    return unknown;
  }

  /**
   * After a fresh first page of the inbox: held inbox items it should have listed, but did
   * not, left the inbox elsewhere while this client was away (archived, snoozed, cleared).
   * `askedAt` is `since` when the page was asked for: newer items may not be in it yet.
   */
  reconcile(page: readonly AnyNotification[], nextBefore: Cursor | null, askedAt: Cursor | null): void {
    if (askedAt === null) return;
    const listed = new Set(page.map((item) => item.id));
    const oldest = page.reduce<Cursor | null>(
      (low, item) => (low === null || compareCursor(item.cursor, low) < 0 ? item.cursor : low),
      null,
    );
    if (nextBefore !== null && oldest === null) return;
    const gone = this.items.filter(
      (item) =>
        inInbox(item) &&
        !listed.has(item.id) &&
        compareCursor(item.cursor, askedAt) <= 0 &&
        (nextBefore === null || (oldest !== null && compareCursor(item.cursor, oldest) >= 0)),
    );
    this.forget(gone.map((item) => item.id), false);
  }

  /**
   * After a fresh first page of the snoozed items: those held as snoozed when it was asked
   * for (`asked`, from `snoozedNow`), still so, in its range but not in it, stopped being
   * snoozed elsewhere while this client was away (woken, unsnoozed, archived, cleared). They
   * are dropped; the inbox's pages bring back those in it. An item snoozed here meanwhile
   * (not in `asked`, or until another time) stays.
   */
  reconcileSnoozed(page: readonly AnyNotification[], nextBefore: Cursor | null, asked: ReadonlyMap<string, string>): void {
    const listed = new Set(page.map((item) => item.id));
    const oldest = page.reduce<Cursor | null>(
      (low, item) => (low === null || compareCursor(item.cursor, low) < 0 ? item.cursor : low),
      null,
    );
    if (nextBefore !== null && oldest === null) return;
    const gone = this.items.filter(
      (item) =>
        isSnoozed(item) &&
        asked.get(item.id) === item.snoozedUntil &&
        !listed.has(item.id) &&
        (nextBefore === null || (oldest !== null && compareCursor(item.cursor, oldest) >= 0)),
    );
    this.forget(gone.map((item) => item.id), false);
  }

  /** The seed's grouping of the default inbox, in display order (the same arrays until something changes). */
  groups(): GroupedNotifications {
    return this.view().groups;
  }

  // -- internals -----------------------------------------------------------------------------

  private view(): Views {
    if (this.views) return this.views;
    const inbox: AnyNotification[] = [];
    const archived: AnyNotification[] = [];
    const snoozed: AnyNotification[] = [];
    const groups: GroupedNotifications = { emails: [], dossiers: [], deadlines: [], system: [] };
    for (const item of this.items) {
      if (item.archived) archived.push(item);
      else if (item.snoozedUntil !== null) snoozed.push(item);
      else {
        inbox.push(item);
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
    }
    this.views = { inbox, archived, snoozed, groups };
    return this.views;
  }

  private oldest(keep: (item: AnyNotification) => boolean): Cursor | null {
    let low: Cursor | null = null;
    for (const item of this.items) {
      if (keep(item) && (low === null || compareCursor(item.cursor, low) < 0)) low = item.cursor;
    }
    return low;
  }

  /** Apply `patch(item)` (null: nothing to do) to each held id; returns the items as they were. */
  private patchEach(
    ids: readonly string[],
    patch: (item: AnyNotification) => Partial<AnyNotification> | null,
  ): AnyNotification[] {
    const previous: AnyNotification[] = [];
    for (const id of new Set(ids)) {
      const item = this.byId.get(id);
      const change = item && patch(item);
      if (!item || !change) continue;
      previous.push(item);
      this.update({ ...item, ...change } as AnyNotification);
    }
    return previous;
  }

  private patchUpTo(
    upTo: Cursor | undefined,
    patch: (item: AnyNotification) => Partial<AnyNotification> | null,
  ): AnyNotification[] {
    const ids = this.items
      .filter((item) => upTo === undefined || compareCursor(item.cursor, upTo) <= 0)
      .map((item) => item.id);
    return this.patchEach(ids, patch);
  }

  /** Replace a held item, adjusting the counts by what the change does to the inbox. */
  private update(item: AnyNotification): void {
    const known = this.byId.get(item.id);
    if (!known) return;
    this.adjustCounts(known, item);
    const unbumped = (item.archived || item.snoozedUntil !== null) && this.bumps.delete(item.id);
    this.replace(item);
    if (unbumped) {
      // Back to its cursor's place (for when it returns to the inbox).
      this.items = this.items.filter((other) => other.id !== item.id);
      this.insertSorted(item);
    }
  }

  private adjustCounts(before: AnyNotification, after: AnyNotification): void {
    this.unreadCount = Math.max(0, this.unreadCount + unreadIn(after) - unreadIn(before));
    this.unseenCount = Math.max(0, this.unseenCount + unseenIn(after) - unseenIn(before));
  }

  private replace(item: AnyNotification): void {
    this.byId.set(item.id, item);
    this.items = this.items.map((other) => (other.id === item.id ? item : other));
    this.views = null;
  }

  /** Drop ids; `count` takes what they counted off the counts (the server's come after). */
  private forget(ids: readonly string[], count = true): void {
    const gone = new Set(ids.filter((id) => this.byId.has(id)));
    if (gone.size === 0) return;
    for (const id of gone) {
      const item = this.byId.get(id);
      if (count) {
        this.unreadCount = Math.max(0, this.unreadCount - unreadIn(item));
        this.unseenCount = Math.max(0, this.unseenCount - unseenIn(item));
      }
      this.byId.delete(id);
      this.bumps.delete(id);
    }
    this.items = this.items.filter((item) => !gone.has(item.id));
    this.views = null;
  }

  /** Display order, newest first: a bumped item sorts as if its cursor were its anchor, above it. */
  private before(a: AnyNotification, b: AnyNotification): boolean {
    const ba = this.bumps.get(a.id);
    const bb = this.bumps.get(b.id);
    const order = compareCursor(ba ? ba.anchor : a.cursor, bb ? bb.anchor : b.cursor);
    if (order !== 0) return order > 0;
    if (ba && bb) return ba.seq > bb.seq;
    if (ba || bb) return Boolean(ba);
    return false;
  }

  private insertSorted(item: AnyNotification): void {
    // Usually the newest: a scan from the front is enough.
    let index = 0;
    while (index < this.items.length && !this.before(item, this.items[index]!)) index += 1;
    this.items = [...this.items.slice(0, index), item, ...this.items.slice(index)];
    this.views = null;
  }

  private trim(): void {
    if (this.items.length <= this.maxItems) return;
    const dropped = this.items.slice(this.maxItems);
    if (dropped.some(inInbox)) this.hasOlder = true;
    if (dropped.some((item) => item.archived)) this.archivedHasOlder = true;
    if (dropped.some(isSnoozed)) this.snoozedHasOlder = true;
    for (const item of dropped) {
      this.byId.delete(item.id);
      this.bumps.delete(item.id);
    }
    this.items = this.items.slice(0, this.maxItems);
    this.views = null;
  }
}
