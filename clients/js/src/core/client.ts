/**
 * The framework-free client: one Socket.IO connection to Tocsin, the user's notifications,
 * unread count and connection state, with reconnection that loses nothing.
 *
 * - Connects with the page's session cookie (same origin) or a token (`auth.token`).
 * - Reconnects with backoff and jitter from `reconnectDelay`; after a refusal for an
 *   expired session, or a server disconnect (the server ends a socket when its session
 *   expires), it first calls `refreshSession`.
 * - Sends the last cursor as `auth.since` on every reconnect: the server replays what was
 *   missed; ids already held are ignored. On `resync` (too much missed) it pages the inbox.
 * - On each connect it loads the first inbox page, which refreshes the states and counts
 *   that other tabs may have changed meanwhile, and the user's preferences.
 * - Inbox states (seen, read, archived, snoozed, acted) change here at once, then on the
 *   server; the ack's counts are then the truth, and a refusal puts the items back. Changes
 *   made elsewhere arrive as `notifications-changed`, snoozes ending as `notification-due`.
 */
import { io as defaultIo, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

import { backoffDelay } from "./backoff.js";
import { compareCursor, isCursor } from "./cursor.js";
import { messages, type Locale } from "./i18n.js";
import { createLogger, type Logger } from "./log.js";
import { BrowserNotifier, requestNotificationPermission } from "./notify.js";
import { mergePreferences, normalisePreferences } from "./preferences.js";
import { NotificationStore } from "./store.js";
import { Transport, type Ack } from "./transport.js";
import {
  DEADLINE_ALERT,
  DEFAULT_PREFERENCES,
  DOSSIER_UPDATED,
  EMAIL_RECEIVED,
  NOTIFICATION_EVENTS,
  SYSTEM_NOTIFICATION,
  type AnyNotification,
  type Counts,
  type Cursor,
  type GroupedNotifications,
  type InboxPage,
  type NotificationDue,
  type NotificationEvent,
  type NotificationsChanged,
  type NotificationsRead,
  type Preferences,
  type PreferencesChanged,
  type PreferencesUpdate,
  type Resync,
} from "./types.js";

type IoFactory = (url: string | undefined, options: Partial<ManagerOptions & SocketOptions>) => Socket;
type TokenSource = string | null | undefined | (() => string | null | undefined | Promise<string | null | undefined>);

/** Options of {@link TocsinClient}; the first four are the seed's. */
export interface TocsinClientOptions {
  /** Connect as soon as the client is created (default true; the hook connects on mount). */
  autoConnect?: boolean;
  /** Reconnect after a disconnect or a failed attempt (default true). */
  reconnect?: boolean;
  /** First delay before reconnecting, in ms (default 3000); it grows with backoff and jitter. */
  reconnectDelay?: number;
  /** Log to the console with the seed's `[WebSocket]` prefix. */
  debug?: boolean;
  /** Tocsin's origin (default: the page's own, which sends the session cookie). */
  url?: string;
  /** Socket.IO path (default `/socket.io`, the server's `WEBSOCKET_PATH`). */
  path?: string;
  /** A session token or JWT for `auth.token` (or a function giving one), where no cookie is sent. */
  token?: TokenSource;
  /**
   * Called before reconnecting after the session expired (refused as `expired`, or ended
   * by the server). Refresh the session here (e.g. NextAuth's `getSession()`); return a
   * new token when you connect with tokens.
   */
  refreshSession?: () => unknown;
  /** Longest delay between attempts, in ms (default 30 s). */
  reconnectDelayMax?: number;
  /** Items per inbox page (default 50). */
  pageSize?: number;
  /** Most notifications held in memory (default 500); older ones stay in the inbox. */
  maxItems?: number;
  /** Show the seed's browser notifications (default true, once permission is granted). */
  browserNotifications?: boolean;
  /** Language of browser notifications (default French, the seed's). */
  locale?: Locale;
  /** Shown in debug logs (`Joined tenant: …`) and scopes tab election. */
  tenantId?: string;
  userId?: string;
  /** Start from this cursor instead of loading the newest page only. */
  since?: Cursor;
  /** Socket.IO transports (default: polling then websocket, as socket.io-client). */
  transports?: ("polling" | "websocket" | "webtransport")[];
  /** Called when a browser notification is clicked. */
  onNotificationClick?: (item: AnyNotification) => void;
  /** For tests and other runtimes: the `io` function and `fetch` to use. */
  io?: IoFactory;
  fetch?: typeof fetch;
  /** Randomness for reconnection jitter (tests). */
  random?: () => number;
}

/** A snapshot of the client's state; a new object whenever anything changes. */
export interface TocsinState {
  connected: boolean;
  connecting: boolean;
  /** The last connection error (`Unauthorized`, `xhr poll error`…), null once connected. */
  error: string | null;
  /** `data.reason` of a refusal: `missing_token`, `invalid_token`, `expired`, `no_tenant`. */
  errorReason: string | null;
  clientsCount: number;
  /** The seed's grouping of the inbox (archived and snoozed items left out). */
  notifications: GroupedNotifications;
  /** The inbox held: neither archived nor snoozed, newest first (back-from-snooze on top). */
  items: readonly AnyNotification[];
  unreadCount: number;
  /** Items in the inbox never shown in an open list. */
  unseenCount: number;
  /** The archived items held (load them with `loadArchived`), newest first. */
  archivedItems: readonly AnyNotification[];
  archivedLoaded: boolean;
  archivedHasOlder: boolean;
  loadingArchived: boolean;
  /** The snoozed items held, newest first. */
  snoozedItems: readonly AnyNotification[];
  /** The effective preferences (the defaults until the server's arrive). */
  preferences: Preferences;
  preferencesLoaded: boolean;
  /** The last counts asked for with `counts()`, or null. */
  counts: Counts | null;
  /** Why the last change was refused (it was undone), or null. */
  actionError: string | null;
  /** The last cursor received (sent back as `auth.since`). */
  since: Cursor | null;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** When the next reconnection attempt is due (epoch ms), or null. */
  reconnectAt: number | null;
}

type Listener = () => void;
type NotificationListener = (item: AnyNotification) => void;

/** The answer to a state change: the counts after it, and what the change reports. */
export interface ChangeAck {
  ok: true;
  unreadCount?: number;
  unseenCount?: number;
  [key: string]: unknown;
}

/** The answer to `act`: the action recorded (the first one, when it was already taken). */
export interface ActAck extends ChangeAck {
  id: string;
  action: string;
  actedAt: string;
  alreadyActed: boolean;
}

/** Options of `archiveAll`: up to a cursor (default: all received), the read ones only. */
export interface ArchiveAllOptions {
  upTo?: Cursor;
  onlyRead?: boolean;
}

const RESYNC_PAGE = 200;

const LOG_LABEL: Record<NotificationEvent, string> = {
  [EMAIL_RECEIVED]: "Email received:",
  [DOSSIER_UPDATED]: "Dossier updated:",
  [DEADLINE_ALERT]: "Deadline alert:",
  [SYSTEM_NOTIFICATION]: "System notification:",
};

/** One user's live notifications. Create one per page (see `getSharedClient`). */
export class TocsinClient {
  readonly options: Readonly<TocsinClientOptions>;
  private readonly store: NotificationStore;
  private readonly log: Logger;
  private readonly listeners = new Set<Listener>();
  private readonly notificationListeners = new Set<NotificationListener>();
  private readonly notifier: BrowserNotifier | null;
  private socket: Socket | null = null;
  private wanted = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshing: Promise<void> | null = null;
  private token: string | null = null;
  private loadedFirstPage = false;
  private stopped = false;
  private preferences: Preferences = DEFAULT_PREFERENCES;
  private readonly transport: Transport;
  private readonly dueListeners = new Set<NotificationListener>();
  private status = {
    connected: false,
    connecting: false,
    error: null as string | null,
    errorReason: null as string | null,
    clientsCount: 0,
    loadingOlder: false,
    loadingArchived: false,
    reconnectAt: null as number | null,
    preferencesLoaded: false,
    counts: null as Counts | null,
    actionError: null as string | null,
  };
  private snapshot: TocsinState;

  constructor(options: TocsinClientOptions = {}) {
    this.options = { ...options };
    this.store = new NotificationStore(options.maxItems ?? 500);
    if (isCursor(options.since)) this.store.since = options.since;
    this.log = createLogger(Boolean(options.debug));
    this.transport = new Transport({
      socket: () => (this.status.connected ? this.socket : null),
      token: async () => this.token ?? (await this.resolveToken()),
      url: options.url,
      fetch: options.fetch,
      log: this.log,
    });
    const wantsBrowser = options.browserNotifications ?? true;
    this.notifier =
      wantsBrowser && typeof window !== "undefined"
        ? new BrowserNotifier(
            messages(options.locale),
            this.log,
            `${options.tenantId ?? ""}:${options.userId ?? ""}`,
            options.onNotificationClick,
            () => this.preferences,
          )
        : null;
    this.snapshot = this.buildSnapshot();
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    if (options.autoConnect ?? true) this.connect();
  }

  // -- state ------------------------------------------------------------------------------

  /** The current state (the same object until something changes). */
  getState = (): TocsinState => this.snapshot;

  /** Be told of every change; returns the unsubscribe function. */
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Be told of each new notification (live or replayed, not inbox pages). */
  onNotification(listener: NotificationListener): () => void {
    this.notificationListeners.add(listener);
    return () => this.notificationListeners.delete(listener);
  }

  /** Be told when a snoozed notification comes back (`notification-due`). */
  onDue(listener: NotificationListener): () => void {
    this.dueListeners.add(listener);
    return () => this.dueListeners.delete(listener);
  }

  private changed(): void {
    this.snapshot = this.buildSnapshot();
    for (const listener of [...this.listeners]) listener();
  }

  private buildSnapshot(): TocsinState {
    return {
      ...this.status,
      notifications: this.store.groups(),
      items: this.store.all(),
      unreadCount: this.store.unreadCount,
      unseenCount: this.store.unseenCount,
      archivedItems: this.store.archived(),
      archivedLoaded: this.store.archivedLoaded,
      archivedHasOlder: this.store.archivedHasOlder,
      snoozedItems: this.store.snoozed(),
      preferences: this.preferences,
      since: this.store.since,
      hasOlder: this.store.hasOlder,
    };
  }

  private setStatus(patch: Partial<typeof this.status>): void {
    Object.assign(this.status, patch);
    this.changed();
  }

  // -- connection -------------------------------------------------------------------------

  /** Open the connection (and keep it open, reconnecting as configured). */
  connect(): void {
    if (this.stopped) return;
    this.wanted = true;
    if (this.status.connected || this.status.connecting) return;
    this.cancelRetry();
    this.open();
  }

  /** Close the connection and stop reconnecting. */
  disconnect(): void {
    this.wanted = false;
    this.cancelRetry();
    this.socket?.disconnect();
    this.setStatus({ connected: false, connecting: false, reconnectAt: null });
  }

  /** Disconnect for good and release the browser-notification role. */
  dispose(): void {
    this.disconnect();
    this.stopped = true;
    this.socket?.removeAllListeners();
    this.socket = null;
    this.notifier?.dispose();
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    this.listeners.clear();
    this.notificationListeners.clear();
    this.dueListeners.clear();
  }

  private open(): void {
    const socket = this.socket ?? this.createSocket();
    this.socket = socket;
    this.setStatus({ connecting: true, reconnectAt: null });
    socket.connect();
  }

  private createSocket(): Socket {
    const factory = this.options.io ?? (defaultIo as unknown as IoFactory);
    const socket = factory(this.options.url, {
      path: this.options.path ?? "/socket.io",
      autoConnect: false,
      reconnection: false, // ours: backoff, jitter, session refresh
      withCredentials: true,
      transports: this.options.transports,
      auth: (cb: (data: object) => void) => {
        this.authPayload().then(cb, () => cb({}));
      },
    });
    socket.on("connect", this.onConnect);
    socket.on("connect_error", this.onConnectError);
    socket.on("disconnect", this.onDisconnect);
    socket.on("clients-count", (data: { count?: unknown }) => {
      if (typeof data?.count === "number") this.setStatus({ clientsCount: data.count });
    });
    socket.on("notifications-read", (data: NotificationsRead) => {
      this.log("Notifications read elsewhere:", data);
      this.store.applyRead(data);
      this.changed();
    });
    socket.on("notifications-changed", (data: NotificationsChanged) => {
      this.log("Notifications changed elsewhere:", data);
      const unknown = this.store.applyChange(data);
      this.changed();
      // An item back in the inbox (or archive) that this client never held: fetch it.
      if (unknown.length > 0 && (data.change === "unarchived" || data.change === "unsnoozed")) void this.loadFirstPage();
      if (unknown.length > 0 && data.change === "archived" && this.store.archivedLoaded) void this.loadArchived();
    });
    socket.on("notification-due", (data: NotificationDue) => this.receiveDue(data));
    socket.on("preferences-changed", (data: PreferencesChanged) => {
      this.log("Preferences changed:", data);
      if (data?.preferences) this.takePreferences(data.preferences);
      else void this.getPreferences();
    });
    socket.on("resync", (data: Resync) => {
      this.log("Resync:", data);
      void this.resync(data);
    });
    for (const event of NOTIFICATION_EVENTS) {
      socket.on(event, (payload: Record<string, unknown>) => this.receive(event, payload));
    }
    return socket;
  }

  private async authPayload(): Promise<Record<string, unknown>> {
    const auth: Record<string, unknown> = {};
    const token = this.token ?? (await this.resolveToken());
    if (token) auth.token = token;
    if (this.store.since !== null) auth.since = this.store.since;
    return auth;
  }

  private async resolveToken(): Promise<string | null> {
    const source = this.options.token;
    const value = typeof source === "function" ? await source() : source;
    return typeof value === "string" && value ? value : null;
  }

  private onConnect = (): void => {
    this.attempt = 0;
    this.setStatus({ connected: true, connecting: false, error: null, errorReason: null });
    this.log("Connected");
    if (this.options.tenantId) this.log(`Joined tenant: ${this.options.tenantId}`);
    if (this.options.userId) this.log(`Joined user: ${this.options.userId}`);
    void this.loadFirstPage();
    void this.getPreferences();
    if (this.store.archivedLoaded) void this.loadArchived();
  };

  private onConnectError = (error: Error & { data?: { reason?: string } }): void => {
    const reason = typeof error?.data?.reason === "string" ? error.data.reason : null;
    this.setStatus({ connected: false, connecting: false, error: error?.message ?? "connect_error", errorReason: reason });
    this.log(`Connection error: ${error?.message}${reason ? ` (${reason})` : ""}`);
    if (reason === "invalid_since") {
      this.store.since = null; // start over from the inbox
      this.scheduleRetry();
    } else if (reason !== null) {
      // Refused by Tocsin: only a refreshed session can change the answer.
      const refreshable = reason === "expired" || reason === "invalid_token" || reason === "missing_token";
      if (refreshable && this.options.refreshSession) this.scheduleRetry({ refresh: true });
      else this.log("Not reconnecting: sign in again");
    } else {
      this.scheduleRetry();
    }
  };

  private onDisconnect = (reason: string): void => {
    this.setStatus({ connected: false, connecting: false, clientsCount: 0 });
    this.log(`Disconnected: ${reason}`);
    if (reason === "io client disconnect") return;
    // "io server disconnect": the server ended the socket, as it does when the session
    // expires; refresh it first. Anything else is the network or a restarting server.
    this.scheduleRetry({ refresh: reason === "io server disconnect" });
  };

  private onOnline = (): void => {
    if (this.wanted && !this.status.connected && !this.status.connecting && this.retryTimer) {
      this.log("Back online: reconnecting now");
      this.cancelRetry();
      this.open();
    }
  };

  private scheduleRetry({ refresh = false }: { refresh?: boolean } = {}): void {
    if (!this.wanted || this.stopped || !(this.options.reconnect ?? true)) return;
    this.cancelRetry();
    const delay = backoffDelay(this.attempt, this.options.reconnectDelay ?? 3000, {
      max: this.options.reconnectDelayMax ?? 30_000,
      random: this.options.random,
    });
    this.attempt += 1;
    this.log(`Reconnecting in ${delay} ms (attempt ${this.attempt})`);
    if (refresh) this.refreshing = this.refreshSession();
    this.status.reconnectAt = Date.now() + delay;
    this.changed();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const pending = this.refreshing ?? Promise.resolve();
      void pending.then(() => {
        this.refreshing = null;
        if (this.wanted && !this.status.connected && !this.status.connecting) this.open();
      });
    }, delay);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.status.reconnectAt !== null) this.status.reconnectAt = null;
  }

  private async refreshSession(): Promise<void> {
    const refresh = this.options.refreshSession;
    this.token = null; // ask the token source again
    if (!refresh) return;
    try {
      this.log("Refreshing the session");
      const result = await refresh();
      if (typeof result === "string" && result) this.token = result;
    } catch (error) {
      this.log("Session refresh failed:", error);
    }
  }

  // -- notifications ----------------------------------------------------------------------

  private receive(event: NotificationEvent, payload: Record<string, unknown>): void {
    const item = { ...payload, event } as unknown as AnyNotification;
    this.log(LOG_LABEL[event], payload);
    if (!this.store.add(item, "live")) return;
    this.changed();
    const added = this.store.get(item.id) ?? item;
    if (!added.read) this.notifier?.notify(added);
    for (const listener of [...this.notificationListeners]) listener(added);
  }

  private receiveDue(data: NotificationDue): void {
    this.log("Back from snooze:", data);
    if (!data || typeof data !== "object") return;
    const { unreadCount, unseenCount, ...payload } = data as NotificationDue & Record<string, unknown>;
    const item = this.store.due(payload as unknown as AnyNotification);
    if (!item) return;
    this.store.setCounts(unreadCount, unseenCount);
    this.changed();
    // Every tab gets it: the elected one shows it, once per return (not once per id).
    this.notifier?.notify(item, `tocsin:${item.id}:due:${Math.floor(Date.now() / 60_000)}`);
    for (const listener of [...this.dueListeners]) listener(item);
  }

  private async loadFirstPage(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    try {
      const askedAt = this.store.since;
      const ack = await this.transport.emit<InboxPage>(socket, "inbox", { limit: this.options.pageSize ?? 50 });
      this.mergePage(ack);
      this.store.reconcile(ack.items ?? [], ack.nextBefore ?? null, askedAt);
      if (!this.loadedFirstPage) this.store.hasOlder = this.store.hasOlder || ack.nextBefore !== null;
      this.loadedFirstPage = true;
      const newest = ack.items.reduce<Cursor | null>(
        (high, item) => (high === null || compareCursor(item.cursor, high) > 0 ? item.cursor : high),
        null,
      );
      this.store.setCounts(ack.unreadCount, ack.unseenCount, newest);
      this.changed();
    } catch (error) {
      this.log("Inbox load failed:", error);
    }
  }

  /** Load the archive's first page (or, with `older`, the next one). Resolves when done. */
  async loadArchived({ older = false }: { older?: boolean } = {}): Promise<void> {
    if (this.status.loadingArchived) return;
    const before = older ? this.store.oldestArchivedCursor() : null;
    if (older && (before === null || !this.store.archivedHasOlder)) return;
    const limit = this.options.pageSize ?? 50;
    this.setStatus({ loadingArchived: true });
    try {
      const query: Record<string, unknown> = { archived: true, limit };
      if (before !== null) query.before = before;
      const page = await this.transport.query<InboxPage>("inbox", query, "/api/v1/inbox");
      this.mergePage(page);
      if (!older) this.store.archivedLoaded = true;
      this.store.archivedHasOlder = page.nextBefore !== null;
    } catch (error) {
      this.log("Loading the archive failed:", error);
    } finally {
      this.setStatus({ loadingArchived: false });
    }
  }

  /** The server's counts (unread, unseen, total, archived, snoozed, per event); null if unreachable. */
  async counts(): Promise<Counts | null> {
    try {
      const counts = await this.transport.query<Counts>("counts", {}, "/api/v1/inbox/counts");
      this.store.setCounts(counts.unread, counts.unseen);
      this.setStatus({ counts });
      return counts;
    } catch (error) {
      this.log("Counts failed:", error);
      return null;
    }
  }

  /** Fetch the user's effective preferences (done on every connect). */
  async getPreferences(): Promise<Preferences> {
    try {
      const answer = await this.transport.query<{ preferences?: unknown }>("preferences", {}, "/api/v1/preferences");
      this.takePreferences(answer.preferences ?? answer);
    } catch (error) {
      this.log("Loading preferences failed:", error);
    }
    return this.preferences;
  }

  /**
   * Change some preferences (the rest stay): here at once, then on the server, whose answer
   * (the effective document) is kept. Resolves to it, or to null when refused (undone).
   */
  async setPreferences(update: PreferencesUpdate): Promise<Preferences | null> {
    const before = this.preferences;
    this.preferences = mergePreferences(before, update);
    this.changed();
    const ack = await this.transport.send("set-preferences", { preferences: update }, "PUT", "/api/v1/preferences", update);
    if (!ack) {
      this.preferences = before;
      this.status.actionError = this.transport.lastFailure;
      this.changed();
      return null;
    }
    this.takePreferences((ack as { preferences?: unknown }).preferences ?? ack);
    return this.preferences;
  }

  private takePreferences(document: unknown): void {
    if (!document || typeof document !== "object") return;
    this.preferences = normalisePreferences(document);
    this.status.preferencesLoaded = true;
    this.changed();
  }

  private mergePage(page: InboxPage): void {
    for (const item of page.items ?? []) this.store.add(item, "page");
  }

  /** Load the next page of older notifications from the inbox. Resolves when done. */
  async loadOlder(): Promise<void> {
    const before = this.store.oldestCursor();
    if (this.status.loadingOlder || !this.store.hasOlder || before === null) return;
    this.setStatus({ loadingOlder: true });
    try {
      const page = await this.fetchInbox(before, this.options.pageSize ?? 50);
      this.mergePage(page);
      this.store.hasOlder = page.nextBefore !== null;
    } catch (error) {
      this.log("Loading older notifications failed:", error);
    } finally {
      this.setStatus({ loadingOlder: false });
    }
  }

  private async resync(event: Resync): Promise<void> {
    // The replay was cut: page the inbox from `before` down to what we already had.
    let before: Cursor | null = isCursor(event.before) ? event.before : null;
    const floor = isCursor(event.since) ? event.since : null;
    let fetched = 0;
    try {
      while (before !== null && fetched < (this.options.maxItems ?? 500)) {
        const page = await this.fetchInbox(before, RESYNC_PAGE);
        this.mergePage(page);
        fetched += page.items.length;
        const last = page.items[page.items.length - 1];
        if (!last || (floor !== null && compareCursor(last.cursor, floor) <= 0)) break;
        before = page.nextBefore;
      }
      const count = await this.transport.http<{ count: number }>("GET", "/api/v1/inbox/unread-count");
      this.store.setUnreadCount(count.count);
    } catch (error) {
      this.log("Resync failed:", error);
    }
    this.changed();
  }

  private async fetchInbox(before: Cursor, limit: number): Promise<InboxPage> {
    const query = new URLSearchParams({ limit: String(limit), before: String(before) });
    return this.transport.http<InboxPage>("GET", `/api/v1/inbox?${query}`);
  }

  // -- read state ---------------------------------------------------------------------------

  /** Mark one notification (or several) read, here at once and then on the server. */
  async markAsRead(ids: string | readonly string[]): Promise<void> {
    const list = typeof ids === "string" ? [ids] : [...ids];
    const changed = this.store.markRead(list);
    if (changed.length === 0) return;
    this.changed();
    const ack = await this.transport.send("mark-read", { ids: changed }, "POST", "/api/v1/inbox/read");
    this.takeCounts(ack);
  }

  /** Mark notifications seen (shown in an open list). Ids already seen are not sent again. */
  async markSeen(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const changed = this.store.markSeen(typeof ids === "string" ? [ids] : [...ids]);
    if (changed.length === 0) return null;
    this.changed();
    const ack = await this.transport.send("mark-seen", { ids: changed }, "POST", "/api/v1/inbox/seen");
    this.takeCounts(ack);
    return ack as ChangeAck | null;
  }

  /** Archive notifications: out of the inbox, into the Archive tab. */
  archive(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const list = idList(ids);
    return this.change(() => this.store.archive(list), "archive", { ids: list }, "/api/v1/inbox/archive");
  }

  /** Take notifications out of the archive, back into the inbox. */
  unarchive(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const list = idList(ids);
    return this.change(() => this.store.unarchive(list), "unarchive", { ids: list }, "/api/v1/inbox/unarchive");
  }

  /** Archive everything received so far (`upTo`), or only what is read (`onlyRead`). */
  archiveAll({ upTo, onlyRead = false }: ArchiveAllOptions = {}): Promise<ChangeAck | null> {
    const until = upTo ?? this.store.since;
    const body: Record<string, unknown> = {};
    if (until !== null) body.upTo = until;
    if (onlyRead) body.onlyRead = true;
    return this.change(
      () => this.store.archiveAll(until ?? undefined, onlyRead),
      "archive-all",
      body,
      "/api/v1/inbox/archive-all",
      true,
    );
  }

  /**
   * Snooze notifications until a time (at least a minute ahead, the server's setting): they
   * leave the inbox and the counts, then come back unread on top (`notification-due`).
   */
  snooze(ids: string | readonly string[], until: Date | string): Promise<ChangeAck | null> {
    const list = idList(ids);
    const when = new Date(until);
    if (Number.isNaN(when.getTime())) return Promise.reject(new RangeError(`snooze: not a time: ${String(until)}`));
    const iso = when.toISOString();
    return this.change(() => this.store.snooze(list, iso), "snooze", { ids: list, until: iso }, "/api/v1/inbox/snooze");
  }

  /** End the snooze of notifications now: back in the inbox. */
  unsnooze(ids: string | readonly string[]): Promise<ChangeAck | null> {
    const list = idList(ids);
    return this.change(() => this.store.unsnooze(list), "unsnooze", { ids: list }, "/api/v1/inbox/unsnooze");
  }

  /**
   * Take one of a notification's actions (recorded once: if one was already taken, the
   * answer names it and the item shows it). The item is read afterwards.
   */
  async act(id: string, action: string): Promise<ActAck | null> {
    const ack = (await this.change(
      () => this.store.act(id, action),
      "act",
      { id, action },
      "/api/v1/inbox/act",
      true,
    )) as ActAck | null;
    if (ack && typeof ack.action === "string") {
      this.store.act(id, ack.action, typeof ack.actedAt === "string" ? ack.actedAt : undefined);
      this.changed();
    }
    return ack;
  }

  /**
   * A state change: `apply` here (returning the items as they were), then the event; its ack's
   * counts are taken, a refusal puts the items back and says why in `actionError`.
   */
  private async change(
    apply: () => AnyNotification[],
    event: string,
    body: Record<string, unknown>,
    path: string,
    always = false,
  ): Promise<ChangeAck | null> {
    const previous = apply();
    if (previous.length === 0 && !always) return null;
    this.status.actionError = null;
    this.changed();
    const ack = await this.transport.send(event, body, "POST", path);
    if (!ack) {
      this.store.restore(previous);
      this.status.actionError = this.transport.lastFailure;
      void this.counts();
      this.changed();
      return null;
    }
    this.takeCounts(ack);
    return ack as ChangeAck;
  }

  private takeCounts(ack: Ack | null): void {
    if (ack) this.store.setCounts(ack.unreadCount, ack.unseenCount);
    this.changed();
  }

  /** Mark everything received so far read (items arriving meanwhile stay unread). */
  async markAllAsRead(): Promise<void> {
    const upTo = this.store.since;
    this.store.markAllRead();
    this.changed();
    const body = upTo === null ? {} : { upTo };
    const ack = await this.transport.send("mark-all-read", body, "POST", "/api/v1/inbox/read-all");
    this.takeCounts(ack);
  }

  /** Clear the inbox (everything received so far), here and on the server. */
  async clearNotifications(): Promise<void> {
    const upTo = this.store.since;
    this.store.clear();
    this.changed();
    const body = upTo === null ? {} : { upTo };
    const ack = await this.transport.send("clear", body, "POST", "/api/v1/inbox/clear");
    this.takeCounts(ack);
  }

  /** The seed's `requestNotificationPermission()`. */
  requestNotificationPermission(): Promise<NotificationPermission> {
    return requestNotificationPermission();
  }

}

function idList(ids: string | readonly string[]): string[] {
  return typeof ids === "string" ? [ids] : [...new Set(ids)];
}
