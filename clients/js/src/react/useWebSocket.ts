/** The seed's React hook, backed by Tocsin. */
import { createContext, createElement, useContext, useEffect, useMemo, useSyncExternalStore, type ReactNode } from "react";

import type {
  ActAck,
  ArchiveAllOptions,
  ChangeAck,
  PushOptions,
  PushResult,
  TocsinClient,
  TocsinClientOptions,
  TocsinState,
} from "../core/client.js";
import { requestNotificationPermission } from "../core/notify.js";
import { getSharedClient, retainClient } from "../core/shared.js";
import type { Counts, GroupedNotifications, Preferences, PreferencesUpdate } from "../core/types.js";

/** The seed's options (`autoConnect`, `reconnect`, `reconnectDelay`, `debug`) and Tocsin's. */
export type UseWebSocketOptions = TocsinClientOptions;

/** Exactly what the seed's `useWebSocket()` returns. */
export interface UseWebSocketResult {
  connected: boolean;
  connecting: boolean;
  error: string | null;
  clientsCount: number;
  notifications: GroupedNotifications;
  unreadCount: number;
  markAsRead: (id: string) => void;
  clearNotifications: () => void;
  requestNotificationPermission: () => Promise<NotificationPermission>;
}

/** Everything the client knows and can do (the NotificationCenter uses this). */
export interface UseTocsinResult extends TocsinState {
  client: TocsinClient;
  markAsRead: (id: string) => void;
  markAllAsRead: () => void;
  clearNotifications: () => void;
  loadOlder: () => void;
  requestNotificationPermission: () => Promise<NotificationPermission>;
  /** Inbox states: each changes here at once, then on the server (see `TocsinClient`). */
  markSeen: (ids: string | readonly string[]) => Promise<ChangeAck | null>;
  archive: (ids: string | readonly string[]) => Promise<ChangeAck | null>;
  unarchive: (ids: string | readonly string[]) => Promise<ChangeAck | null>;
  archiveAll: (options?: ArchiveAllOptions) => Promise<ChangeAck | null>;
  snooze: (ids: string | readonly string[], until: Date | string) => Promise<ChangeAck | null>;
  unsnooze: (ids: string | readonly string[]) => Promise<ChangeAck | null>;
  act: (id: string, action: string) => Promise<ActAck | null>;
  loadArchived: (options?: { older?: boolean }) => Promise<void>;
  loadSnoozed: (options?: { older?: boolean }) => Promise<void>;
  counts: Counts | null;
  refreshCounts: () => Promise<Counts | null>;
  setPreferences: (update: PreferencesUpdate) => Promise<Preferences | null>;
  /** Web Push for this browser (see `TocsinClient.enablePush`; call it from a click). */
  enablePush: (options?: PushOptions) => Promise<PushResult>;
  disablePush: (options?: PushOptions) => Promise<PushResult>;
}

const ClientContext = createContext<TocsinClient | null>(null);

/** Give a subtree its own client (otherwise the page's shared client is used). */
export function TocsinProvider({ client, children }: { client: TocsinClient; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The full client state and actions. */
export function useTocsin(options: UseWebSocketOptions = {}): UseTocsinResult {
  const provided = useContext(ClientContext);
  const client = useMemo(
    () => provided ?? getSharedClient(options),
    // The shared client is per server; other options apply when it is first created.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [provided, options.url, options.path],
  );
  const autoConnect = options.autoConnect ?? true;
  useEffect(() => retainClient(client, autoConnect), [client, autoConnect]);
  const state = useSyncExternalStore(client.subscribe, client.getState, client.getState);
  const actions = useMemo(
    () => ({
      markAsRead: (id: string) => void client.markAsRead(id),
      markAllAsRead: () => void client.markAllAsRead(),
      clearNotifications: () => void client.clearNotifications(),
      loadOlder: () => void client.loadOlder(),
      requestNotificationPermission,
      markSeen: (ids: string | readonly string[]) => client.markSeen(ids),
      archive: (ids: string | readonly string[]) => client.archive(ids),
      unarchive: (ids: string | readonly string[]) => client.unarchive(ids),
      archiveAll: (options?: ArchiveAllOptions) => client.archiveAll(options),
      snooze: (ids: string | readonly string[], until: Date | string) => client.snooze(ids, until),
      unsnooze: (ids: string | readonly string[]) => client.unsnooze(ids),
      act: (id: string, action: string) => client.act(id, action),
      loadArchived: (options?: { older?: boolean }) => client.loadArchived(options),
      loadSnoozed: (options?: { older?: boolean }) => client.loadSnoozed(options),
      refreshCounts: () => client.counts(),
      setPreferences: (update: PreferencesUpdate) => client.setPreferences(update),
      enablePush: (options?: PushOptions) => client.enablePush(options),
      disablePush: (options?: PushOptions) => client.disablePush(options),
    }),
    [client],
  );
  return { ...state, ...actions, client };
}

/**
 * The seed's hook: `useWebSocket({autoConnect, reconnect, reconnectDelay, debug})` →
 * `{connected, connecting, error, clientsCount, notifications, unreadCount, markAsRead,
 * clearNotifications, requestNotificationPermission}`.
 */
export function useWebSocket(options: UseWebSocketOptions = {}): UseWebSocketResult {
  const all = useTocsin(options);
  return useMemo(
    () => ({
      connected: all.connected,
      connecting: all.connecting,
      error: all.error,
      clientsCount: all.clientsCount,
      notifications: all.notifications,
      unreadCount: all.unreadCount,
      markAsRead: all.markAsRead,
      clearNotifications: all.clearNotifications,
      requestNotificationPermission: all.requestNotificationPermission,
    }),
    [
      all.connected,
      all.connecting,
      all.error,
      all.clientsCount,
      all.notifications,
      all.unreadCount,
      all.markAsRead,
      all.clearNotifications,
      all.requestNotificationPermission,
    ],
  );
}
