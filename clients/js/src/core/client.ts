/**
 * The framework-free client: one Socket.IO connection to Tocsin, the user's notifications,
 * unread count and connection state, with reconnection that loses nothing.
 *
 * It puts together the parts that do each job and mirrors what Tocsin pushes:
 * - `Connection` connects (cookie or token), reconnects with backoff and session refresh,
 *   and sends the last cursor as `auth.since`: the server replays what was missed, ids
 *   already held are ignored. On `resync` (too much missed) `InboxLoader` pages the inbox.
 * - On each connect `InboxLoader` loads the first inbox page (which refreshes the states and
 *   counts other tabs may have changed meanwhile), and the archive and the snoozed items
 *   once they were loaded; `PreferencesSync` loads the user's preferences.
 * - `InboxStates` changes states (seen, read, archived, snoozed, acted) here at once, then
 *   on the server; the ack's counts are then the truth, and a refusal puts the items back.
 *   Changes made elsewhere arrive as `notifications-changed`, snoozes ending as
 *   `notification-due`.
 * - `ClientState` holds the store, status and preferences, and gives the snapshot.
 */
import type { Socket } from "socket.io-client";

import { Connection } from "./connection.js";
import { isCursor } from "./cursor.js";
import { messages } from "./i18n.js";
import { InboxLoader } from "./inbox.js";
import { InboxStates, type ActAck, type ArchiveAllOptions, type ChangeAck } from "./inbox-states.js";
import { createLogger, type Logger } from "./log.js";
import { BrowserNotifier, requestNotificationPermission } from "./notify.js";
import { DEFAULT_MAX_ITEMS, type TocsinClientOptions } from "./options.js";
import { PreferencesSync } from "./preferences-sync.js";
import { browserPushEnvironment, WebPush, type PushOptions, type PushResult } from "./push.js";
import { ClientState, type TocsinState } from "./state.js";
import { NotificationStore } from "./store.js";
import { Transport } from "./transport.js";
import {
  DEADLINE_ALERT,
  DOSSIER_UPDATED,
  EMAIL_RECEIVED,
  NOTIFICATION_EVENTS,
  SYSTEM_NOTIFICATION,
  type AnyNotification,
  type Counts,
  type NotificationDue,
  type NotificationEvent,
  type NotificationsChanged,
  type NotificationsRead,
  type Preferences,
  type PreferencesChanged,
  type PreferencesUpdate,
  type Resync,
} from "./types.js";

export type { TocsinClientOptions } from "./options.js";
export type { TocsinState } from "./state.js";
export type { ActAck, ArchiveAllOptions, ChangeAck } from "./inbox-states.js";
export type { PushOptions, PushReason, PushResult, PushState } from "./push.js";

type Listener = () => void;
type NotificationListener = (item: AnyNotification) => void;

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
  private readonly state: ClientState;
  private readonly log: Logger;
  private readonly transport: Transport;
  private readonly connection: Connection;
  private readonly inbox: InboxLoader;
  private readonly states: InboxStates;
  private readonly prefs: PreferencesSync;
  private readonly notifier: BrowserNotifier | null;
  private readonly push: WebPush;
  private readonly notificationListeners = new Set<NotificationListener>();
  private readonly dueListeners = new Set<NotificationListener>();

  constructor(options: TocsinClientOptions = {}) {
    this.options = { ...options };
    this.store = new NotificationStore(options.maxItems ?? DEFAULT_MAX_ITEMS);
    if (isCursor(options.since)) this.store.since = options.since;
    this.state = new ClientState(this.store);
    this.log = createLogger(Boolean(options.debug));
    this.connection = new Connection(this.options, this.state, this.log, {
      listen: (socket) => this.listen(socket),
      connected: () => this.reload(),
    });
    this.transport = new Transport({
      socket: () => this.connection.live,
      token: () => this.connection.currentToken(),
      url: options.url,
      fetch: options.fetch,
      log: this.log,
    });
    this.inbox = new InboxLoader(this.options, this.state, this.transport, this.log, () => this.connection.current);
    this.states = new InboxStates(this.state, this.transport, () => this.inbox.counts());
    this.prefs = new PreferencesSync(this.state, this.transport, this.log);
    this.push = new WebPush(this.transport, this.state, this.log, options.pushEnvironment ?? browserPushEnvironment(), {
      ...(options.serviceWorkerUrl !== undefined ? { serviceWorkerUrl: options.serviceWorkerUrl } : {}),
      ...(options.serviceWorkerScope ? { scope: options.serviceWorkerScope } : {}),
    });
    const wantsBrowser = options.browserNotifications ?? true;
    this.notifier =
      wantsBrowser && typeof window !== "undefined"
        ? new BrowserNotifier(
            messages(options.locale),
            this.log,
            `${options.tenantId ?? ""}:${options.userId ?? ""}`,
            options.onNotificationClick,
            () => this.state.preferences,
          )
        : null;
    if (options.autoConnect ?? true) this.connect();
  }

  // -- state ------------------------------------------------------------------------------

  /** The current state (the same object until something changes). */
  getState = (): TocsinState => this.state.get();

  /** Be told of every change; returns the unsubscribe function. */
  subscribe = (listener: Listener): (() => void) => this.state.subscribe(listener);

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

  // -- connection -------------------------------------------------------------------------

  /** Open the connection (and keep it open, reconnecting as configured). */
  connect(): void {
    this.connection.connect();
  }

  /** Close the connection and stop reconnecting. */
  disconnect(): void {
    this.connection.disconnect();
  }

  /** Disconnect for good and release the browser-notification role. */
  dispose(): void {
    this.connection.disconnect();
    this.connection.dispose();
    this.notifier?.dispose();
    this.state.clear();
    this.notificationListeners.clear();
    this.dueListeners.clear();
  }

  /** Connected (again): what other tabs and devices changed meanwhile is loaded again. */
  private reload(): void {
    void this.inbox.loadFirstPage();
    void this.prefs.load();
    if (this.store.archivedLoaded) void this.inbox.loadArchived();
    if (this.store.snoozedLoaded) void this.inbox.loadSnoozed();
  }

  /** What Tocsin pushes on the socket. */
  private listen(socket: Socket): void {
    socket.on("clients-count", (data: { count?: unknown }) => {
      if (typeof data?.count === "number") this.state.set({ clientsCount: data.count });
    });
    socket.on("notifications-read", (data: NotificationsRead) => {
      this.log("Notifications read elsewhere:", data);
      this.store.applyRead(data);
      this.state.changed();
    });
    socket.on("notifications-changed", (data: NotificationsChanged) => this.receiveChange(data));
    socket.on("notification-due", (data: NotificationDue) => this.receiveDue(data));
    socket.on("preferences-changed", (data: PreferencesChanged) => this.prefs.pushed(data));
    socket.on("resync", (data: Resync) => {
      this.log("Resync:", data);
      void this.inbox.resync(data);
    });
    for (const event of NOTIFICATION_EVENTS) {
      socket.on(event, (payload: Record<string, unknown>) => this.receive(event, payload));
    }
  }

  // -- what arrives -------------------------------------------------------------------------

  private receive(event: NotificationEvent, payload: Record<string, unknown>): void {
    const item = { ...payload, event } as unknown as AnyNotification;
    this.log(LOG_LABEL[event], payload);
    if (!this.store.add(item, "live")) return;
    this.state.changed();
    const added = this.store.get(item.id) ?? item;
    if (!added.read) this.notifier?.notify(added);
    for (const listener of [...this.notificationListeners]) listener(added);
  }

  private receiveChange(data: NotificationsChanged): void {
    this.log("Notifications changed elsewhere:", data);
    const unknown = this.store.applyChange(data);
    this.state.changed();
    // An item back in the inbox (or archive) that this client never held: fetch it.
    if (unknown.length > 0 && (data.change === "unarchived" || data.change === "unsnoozed")) void this.inbox.loadFirstPage();
    if (unknown.length > 0 && data.change === "archived" && this.store.archivedLoaded) void this.inbox.loadArchived();
    if (unknown.length > 0 && data.change === "snoozed" && this.store.snoozedLoaded) void this.inbox.loadSnoozed();
  }

  private receiveDue(data: NotificationDue): void {
    this.log("Back from snooze:", data);
    if (!data || typeof data !== "object") return;
    const { unreadCount, unseenCount, ...payload } = data as NotificationDue & Record<string, unknown>;
    const item = this.store.due(payload as unknown as AnyNotification);
    if (!item) return;
    this.store.setCounts(unreadCount, unseenCount);
    this.state.changed();
    // Every tab gets it: the elected one shows it, once per return (not once per id).
    this.notifier?.notify(item, `tocsin:${item.id}:due:${Math.floor(Date.now() / 60_000)}`);
    for (const listener of [...this.dueListeners]) listener(item);
  }

  // -- loading ------------------------------------------------------------------------------

  /** Load the archive's first page (or, with `older`, the next one). Resolves when done. */
  loadArchived(options: { older?: boolean } = {}): Promise<void> {
    return this.inbox.loadArchived(options);
  }

  /**
   * Load the snoozed items' first page (or, with `older`, the next one): the Archive tab's
   * « Reportées ». Once loaded, they are loaded again on every connect. Resolves when done.
   */
  loadSnoozed(options: { older?: boolean } = {}): Promise<void> {
    return this.inbox.loadSnoozed(options);
  }

  /** Load the next page of older notifications from the inbox. Resolves when done. */
  loadOlder(): Promise<void> {
    return this.inbox.loadOlder();
  }

  /** The server's counts (unread, unseen, total, archived, snoozed, per event); null if unreachable. */
  counts(): Promise<Counts | null> {
    return this.inbox.counts();
  }

  // -- preferences --------------------------------------------------------------------------

  /** Fetch the user's effective preferences (done on every connect). */
  getPreferences(): Promise<Preferences> {
    return this.prefs.load();
  }

  /**
   * Change some preferences (the rest stay): here at once, then on the server, whose answer
   * (the effective document) is kept. Resolves to it, or to null when refused (undone).
   */
  setPreferences(update: PreferencesUpdate): Promise<Preferences | null> {
    return this.prefs.save(update);
  }

  // -- inbox states -------------------------------------------------------------------------

  /** Mark one notification (or several) read, here at once and then on the server. */
  markAsRead(ids: string | readonly string[]): Promise<void> {
    return this.states.markAsRead(ids);
  }

  /** Mark notifications seen (shown in an open list). Ids already seen are not sent again. */
  markSeen(ids: string | readonly string[]): Promise<ChangeAck | null> {
    return this.states.markSeen(ids);
  }

  /** Archive notifications: out of the inbox, into the Archive tab. */
  archive(ids: string | readonly string[]): Promise<ChangeAck | null> {
    return this.states.archive(ids);
  }

  /** Take notifications out of the archive, back into the inbox. */
  unarchive(ids: string | readonly string[]): Promise<ChangeAck | null> {
    return this.states.unarchive(ids);
  }

  /** Archive everything received so far (`upTo`), or only what is read (`onlyRead`). */
  archiveAll(options: ArchiveAllOptions = {}): Promise<ChangeAck | null> {
    return this.states.archiveAll(options);
  }

  /**
   * Snooze notifications until a time (at least a minute ahead, the server's setting): they
   * leave the inbox and the counts, then come back unread on top (`notification-due`).
   */
  snooze(ids: string | readonly string[], until: Date | string): Promise<ChangeAck | null> {
    return this.states.snooze(ids, until);
  }

  /** End the snooze of notifications now: back in the inbox. */
  unsnooze(ids: string | readonly string[]): Promise<ChangeAck | null> {
    return this.states.unsnooze(ids);
  }

  /**
   * Take one of a notification's actions (recorded once: if one was already taken, the
   * answer names it and the item shows it). The item is read afterwards.
   */
  act(id: string, action: string): Promise<ActAck | null> {
    return this.states.act(id, action);
  }

  /** Mark everything received so far read (items arriving meanwhile stay unread). */
  markAllAsRead(): Promise<void> {
    return this.states.markAllAsRead();
  }

  /** Clear the inbox (everything received so far), here and on the server. */
  clearNotifications(): Promise<void> {
    return this.states.clear();
  }

  /** The seed's `requestNotificationPermission()`. */
  requestNotificationPermission(): Promise<NotificationPermission> {
    return requestNotificationPermission();
  }

  // -- Web Push -----------------------------------------------------------------------------

  /**
   * Reach this user when no tab is open: asks the browser's permission, registers the
   * service worker (`serviceWorkerUrl`, default `/tocsin-sw.js`), subscribes with the
   * server's VAPID key and gives the subscription to Tocsin. Call it from a click (browsers
   * refuse a permission prompt without one). Resolves with `{state, reason, message}`
   * (`state.push` and `state.pushReason` follow); never rejects: without push configured on
   * the server it resolves `unavailable` / `not_configured`.
   */
  enablePush(options: PushOptions = {}): Promise<PushResult> {
    return this.push.enable(options);
  }

  /** Unsubscribe this browser from push, here and on the server. Never rejects. */
  disablePush(options: PushOptions = {}): Promise<PushResult> {
    return this.push.disable(options);
  }

  /**
   * Find out where push stands (`state.push`) without asking the user anything; an existing
   * subscription is handed to Tocsin again. Never rejects.
   */
  refreshPush(options: PushOptions = {}): Promise<PushResult> {
    return this.push.refresh(options);
  }
}
