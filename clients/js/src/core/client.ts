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
 * - On each connect it loads the first inbox page, which refreshes read flags and the
 *   unread count that other tabs may have changed meanwhile.
 */
import { io as defaultIo, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";

import { backoffDelay } from "./backoff.js";
import { compareCursor, isCursor } from "./cursor.js";
import { messages, type Locale } from "./i18n.js";
import { createLogger, type Logger } from "./log.js";
import { BrowserNotifier, requestNotificationPermission } from "./notify.js";
import { NotificationStore } from "./store.js";
import {
  DEADLINE_ALERT,
  DOSSIER_UPDATED,
  EMAIL_RECEIVED,
  NOTIFICATION_EVENTS,
  SYSTEM_NOTIFICATION,
  type AnyNotification,
  type Cursor,
  type GroupedNotifications,
  type InboxPage,
  type NotificationEvent,
  type NotificationsRead,
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
  notifications: GroupedNotifications;
  /** All notifications held, newest first. */
  items: readonly AnyNotification[];
  unreadCount: number;
  /** The last cursor received (sent back as `auth.since`). */
  since: Cursor | null;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** When the next reconnection attempt is due (epoch ms), or null. */
  reconnectAt: number | null;
}

type Ack = { ok: boolean; error?: string; message?: string; [key: string]: unknown };
type Listener = () => void;
type NotificationListener = (item: AnyNotification) => void;

const ACK_TIMEOUT_MS = 10_000;
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
  private status = {
    connected: false,
    connecting: false,
    error: null as string | null,
    errorReason: null as string | null,
    clientsCount: 0,
    loadingOlder: false,
    reconnectAt: null as number | null,
  };
  private snapshot: TocsinState;

  constructor(options: TocsinClientOptions = {}) {
    this.options = { ...options };
    this.store = new NotificationStore(options.maxItems ?? 500);
    if (isCursor(options.since)) this.store.since = options.since;
    this.log = createLogger(Boolean(options.debug));
    const wantsBrowser = options.browserNotifications ?? true;
    this.notifier =
      wantsBrowser && typeof window !== "undefined"
        ? new BrowserNotifier(
            messages(options.locale),
            this.log,
            `${options.tenantId ?? ""}:${options.userId ?? ""}`,
            options.onNotificationClick,
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

  private async loadFirstPage(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    try {
      const ack = (await socket
        .timeout(ACK_TIMEOUT_MS)
        .emitWithAck("inbox", { limit: this.options.pageSize ?? 50 })) as Ack & InboxPage;
      if (!ack?.ok) throw new Error(ack?.message ?? "inbox refused");
      this.mergePage(ack);
      if (!this.loadedFirstPage) this.store.hasOlder = this.store.hasOlder || ack.nextBefore !== null;
      this.loadedFirstPage = true;
      if (typeof ack.unreadCount === "number") {
        this.store.setUnreadCount(ack.unreadCount, ack.items[0]?.cursor ?? null);
      }
      this.changed();
    } catch (error) {
      this.log("Inbox load failed:", error);
    }
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
      const count = await this.http<{ count: number }>("GET", "/api/v1/inbox/unread-count");
      this.store.setUnreadCount(count.count);
    } catch (error) {
      this.log("Resync failed:", error);
    }
    this.changed();
  }

  private async fetchInbox(before: Cursor, limit: number): Promise<InboxPage> {
    const query = new URLSearchParams({ limit: String(limit), before: String(before) });
    return this.http<InboxPage>("GET", `/api/v1/inbox?${query}`);
  }

  private async http<T>(method: string, path: string, body?: unknown): Promise<T> {
    const doFetch = this.options.fetch ?? globalThis.fetch;
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = this.token ?? (await this.resolveToken());
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const base = (this.options.url ?? "").replace(/\/$/, "");
    const response = await doFetch(`${base}${path}`, {
      method,
      headers,
      credentials: "include",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  }

  // -- read state ---------------------------------------------------------------------------

  /** Mark one notification (or several) read, here at once and then on the server. */
  async markAsRead(ids: string | readonly string[]): Promise<void> {
    const list = typeof ids === "string" ? [ids] : [...ids];
    const changed = this.store.markRead(list);
    if (changed.length === 0) return;
    this.changed();
    const ack = await this.send("mark-read", { ids: changed }, "POST", "/api/v1/inbox/read");
    if (typeof ack?.unreadCount === "number") this.store.setUnreadCount(ack.unreadCount);
    this.changed();
  }

  /** Mark everything received so far read (items arriving meanwhile stay unread). */
  async markAllAsRead(): Promise<void> {
    const upTo = this.store.since;
    this.store.markAllRead();
    this.changed();
    const body = upTo === null ? {} : { upTo };
    const ack = await this.send("mark-all-read", body, "POST", "/api/v1/inbox/read-all");
    if (typeof ack?.unreadCount === "number") this.store.setUnreadCount(ack.unreadCount);
    this.changed();
  }

  /** Clear the inbox (everything received so far), here and on the server. */
  async clearNotifications(): Promise<void> {
    const upTo = this.store.since;
    this.store.clear();
    this.changed();
    const body = upTo === null ? {} : { upTo };
    const ack = await this.send("clear", body, "POST", "/api/v1/inbox/clear");
    if (typeof ack?.unreadCount === "number") this.store.setUnreadCount(ack.unreadCount);
    this.changed();
  }

  /** The seed's `requestNotificationPermission()`. */
  requestNotificationPermission(): Promise<NotificationPermission> {
    return requestNotificationPermission();
  }

  /** A client event with acknowledgement, or the same over HTTP while disconnected. */
  private async send(event: string, body: Record<string, unknown>, method: string, path: string): Promise<Ack | null> {
    try {
      if (this.socket && this.status.connected) {
        const ack = (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, body)) as Ack;
        if (!ack?.ok) throw new Error(`${event}: ${ack?.message ?? ack?.error ?? "refused"}`);
        return ack;
      }
      return { ok: true, ...(await this.http<Record<string, unknown>>(method, path, body)) };
    } catch (error) {
      this.log(`${event} failed:`, error);
      return null;
    }
  }
}
