/**
 * What the client knows, as one snapshot: the store's lists and counts, the connection's
 * status and the preferences. Every part of the client changes it here, then calls
 * `changed()`, which builds a new snapshot and tells the subscribers.
 */
import type { PushReason, PushState } from "./push.js";
import type { NotificationStore } from "./store.js";
import { DEFAULT_PREFERENCES, type AnyNotification, type Counts, type Cursor, type GroupedNotifications, type Preferences } from "./types.js";

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
  /** The snoozed items held (load them with `loadSnoozed`), newest first. */
  snoozedItems: readonly AnyNotification[];
  snoozedLoaded: boolean;
  snoozedHasOlder: boolean;
  loadingSnoozed: boolean;
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
  /** Web Push on this browser (see `enablePush`); `default` until checked or asked. */
  push: PushState;
  /** Why the last push attempt did not end subscribed, or null. */
  pushReason: PushReason | null;
  /** Whether `push` was checked against the browser and the server (`refreshPush`). */
  pushChecked: boolean;
}

/** The part of the state the store does not hold. */
export interface ClientStatus {
  connected: boolean;
  connecting: boolean;
  error: string | null;
  errorReason: string | null;
  clientsCount: number;
  loadingOlder: boolean;
  loadingArchived: boolean;
  loadingSnoozed: boolean;
  reconnectAt: number | null;
  preferencesLoaded: boolean;
  counts: Counts | null;
  actionError: string | null;
  push: PushState;
  pushReason: PushReason | null;
  pushChecked: boolean;
}

type Listener = () => void;

/** The client's state: the store, the status and the preferences, and who listens to them. */
export class ClientState {
  readonly status: ClientStatus = {
    connected: false,
    connecting: false,
    error: null,
    errorReason: null,
    clientsCount: 0,
    loadingOlder: false,
    loadingArchived: false,
    loadingSnoozed: false,
    reconnectAt: null,
    preferencesLoaded: false,
    counts: null,
    actionError: null,
    push: "default",
    pushReason: null,
    pushChecked: false,
  };
  preferences: Preferences = DEFAULT_PREFERENCES;
  private readonly listeners = new Set<Listener>();
  private snapshot: TocsinState;

  constructor(readonly store: NotificationStore) {
    this.snapshot = this.build();
  }

  /** The current snapshot (the same object until something changes). */
  get(): TocsinState {
    return this.snapshot;
  }

  /** Be told of every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something changed: build a new snapshot and tell the subscribers. */
  changed(): void {
    this.snapshot = this.build();
    for (const listener of [...this.listeners]) listener();
  }

  /** Change some of the status, then `changed()`. */
  set(patch: Partial<ClientStatus>): void {
    Object.assign(this.status, patch);
    this.changed();
  }

  /** Forget every subscriber (the client is disposed). */
  clear(): void {
    this.listeners.clear();
  }

  private build(): TocsinState {
    const store = this.store;
    return {
      ...this.status,
      notifications: store.groups(),
      items: store.all(),
      unreadCount: store.unreadCount,
      unseenCount: store.unseenCount,
      archivedItems: store.archived(),
      archivedLoaded: store.archivedLoaded,
      archivedHasOlder: store.archivedHasOlder,
      snoozedItems: store.snoozed(),
      snoozedLoaded: store.snoozedLoaded,
      snoozedHasOlder: store.snoozedHasOlder,
      preferences: this.preferences,
      since: store.since,
      hasOlder: store.hasOlder,
    };
  }
}
