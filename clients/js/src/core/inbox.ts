/**
 * Loading the inbox into the store: its first page on every connect (which refreshes the
 * states and counts other tabs may have changed meanwhile), older pages on demand, the
 * pages of the archive and of the snoozed items, the pages a `resync` asks for, and the
 * server's counts.
 */
import type { Socket } from "socket.io-client";

import { compareCursor, isCursor } from "./cursor.js";
import type { Logger } from "./log.js";
import { DEFAULT_MAX_ITEMS, DEFAULT_PAGE_SIZE, type TocsinClientOptions } from "./options.js";
import type { ClientState } from "./state.js";
import type { Transport } from "./transport.js";
import type { Counts, Cursor, InboxPage, Resync } from "./types.js";

const RESYNC_PAGE = 200;

export class InboxLoader {
  private loadedFirstPage = false;

  constructor(
    private readonly options: Readonly<TocsinClientOptions>,
    private readonly state: ClientState,
    private readonly transport: Transport,
    private readonly log: Logger,
    /** The socket the first page is asked on (null: not made yet). */
    private readonly socket: () => Socket | null,
  ) {}

  private get pageSize(): number {
    return this.options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  /** Load the inbox's first page; items it should list but does not left it elsewhere. */
  async loadFirstPage(): Promise<void> {
    const socket = this.socket();
    if (!socket) return;
    const store = this.state.store;
    try {
      const askedAt = store.since;
      const ack = await this.transport.emit<InboxPage>(socket, "inbox", { limit: this.pageSize });
      this.merge(ack);
      store.reconcile(ack.items ?? [], ack.nextBefore ?? null, askedAt);
      if (!this.loadedFirstPage) store.hasOlder = store.hasOlder || ack.nextBefore !== null;
      this.loadedFirstPage = true;
      const newest = ack.items.reduce<Cursor | null>(
        (high, item) => (high === null || compareCursor(item.cursor, high) > 0 ? item.cursor : high),
        null,
      );
      store.setCounts(ack.unreadCount, ack.unseenCount, newest);
      this.state.changed();
    } catch (error) {
      this.log("Inbox load failed:", error);
    }
  }

  /** Load the archive's first page (or, with `older`, the next one). Resolves when done. */
  async loadArchived({ older = false }: { older?: boolean } = {}): Promise<void> {
    const store = this.state.store;
    if (this.state.status.loadingArchived) return;
    const before = older ? store.oldestArchivedCursor() : null;
    if (older && (before === null || !store.archivedHasOlder)) return;
    this.state.set({ loadingArchived: true });
    try {
      const page = await this.listPage({ archived: true }, before);
      this.merge(page);
      store.setCounts(page.unreadCount, page.unseenCount);
      if (!older) store.archivedLoaded = true;
      store.archivedHasOlder = page.nextBefore !== null;
    } catch (error) {
      this.log("Loading the archive failed:", error);
    } finally {
      this.state.set({ loadingArchived: false });
    }
  }

  /**
   * Load the snoozed items' first page (or, with `older`, the next one). The first page also
   * drops the held ones that stopped being snoozed elsewhere. Resolves when done.
   */
  async loadSnoozed({ older = false }: { older?: boolean } = {}): Promise<void> {
    const store = this.state.store;
    if (this.state.status.loadingSnoozed) return;
    const before = older ? store.oldestSnoozedCursor() : null;
    if (older && (before === null || !store.snoozedHasOlder)) return;
    this.state.set({ loadingSnoozed: true });
    try {
      const asked = store.snoozedNow();
      const page = await this.listPage({ snoozed: true }, before);
      this.merge(page);
      store.setCounts(page.unreadCount, page.unseenCount);
      if (!older) {
        store.reconcileSnoozed(page.items ?? [], page.nextBefore ?? null, asked);
        store.snoozedLoaded = true;
      }
      store.snoozedHasOlder = page.nextBefore !== null;
    } catch (error) {
      this.log("Loading the snoozed items failed:", error);
    } finally {
      this.state.set({ loadingSnoozed: false });
    }
  }

  /** Load the next page of older notifications from the inbox. Resolves when done. */
  async loadOlder(): Promise<void> {
    const store = this.state.store;
    const before = store.oldestCursor();
    if (this.state.status.loadingOlder || !store.hasOlder || before === null) return;
    this.state.set({ loadingOlder: true });
    try {
      const page = await this.fetchInbox(before, this.pageSize);
      this.merge(page);
      store.hasOlder = page.nextBefore !== null;
    } catch (error) {
      this.log("Loading older notifications failed:", error);
    } finally {
      this.state.set({ loadingOlder: false });
    }
  }

  /** The server's counts (unread, unseen, total, archived, snoozed, per event); null if unreachable. */
  async counts(): Promise<Counts | null> {
    try {
      const counts = await this.transport.query<Counts>("counts", {}, "/api/v1/inbox/counts");
      this.state.store.setCounts(counts.unread, counts.unseen);
      this.state.set({ counts });
      return counts;
    } catch (error) {
      this.log("Counts failed:", error);
      return null;
    }
  }

  /** The replay was cut: page the inbox from `before` down to what was already held. */
  async resync(event: Resync): Promise<void> {
    let before: Cursor | null = isCursor(event.before) ? event.before : null;
    const floor = isCursor(event.since) ? event.since : null;
    let fetched = 0;
    try {
      while (before !== null && fetched < (this.options.maxItems ?? DEFAULT_MAX_ITEMS)) {
        const page = await this.fetchInbox(before, RESYNC_PAGE);
        this.merge(page);
        fetched += page.items.length;
        const last = page.items[page.items.length - 1];
        if (!last || (floor !== null && compareCursor(last.cursor, floor) <= 0)) break;
        before = page.nextBefore;
      }
      const count = await this.transport.http<{ count: number }>("GET", "/api/v1/inbox/unread-count");
      this.state.store.setUnreadCount(count.count);
    } catch (error) {
      this.log("Resync failed:", error);
    }
    this.state.changed();
  }

  /**
   * A page of the archive or of the snoozed items (`view`), below `before` when not null.
   * Its counts are the inbox's, as with every page: the caller takes them.
   */
  private listPage(view: { archived: true } | { snoozed: true }, before: Cursor | null): Promise<InboxPage> {
    const query: Record<string, unknown> = { ...view, limit: this.pageSize };
    if (before !== null) query.before = before;
    return this.transport.query<InboxPage>("inbox", query, "/api/v1/inbox");
  }

  private merge(page: InboxPage): void {
    for (const item of page.items ?? []) this.state.store.add(item, "page");
  }

  private async fetchInbox(before: Cursor, limit: number): Promise<InboxPage> {
    const query = new URLSearchParams({ limit: String(limit), before: String(before) });
    return this.transport.http<InboxPage>("GET", `/api/v1/inbox?${query}`);
  }
}
