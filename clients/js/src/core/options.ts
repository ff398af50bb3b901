/** The options of {@link TocsinClient} and the pieces they are made of. */
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";

import type { Locale } from "./i18n.js";
import type { PushEnvironment } from "./push.js";
import type { AnyNotification, Cursor } from "./types.js";

/** socket.io-client's `io`, or a stand-in with its signature (tests, other runtimes). */
export type IoFactory = (url: string | undefined, options: Partial<ManagerOptions & SocketOptions>) => Socket;

/** A token, or a function giving one (null or empty: none, the session cookie is used). */
export type TokenSource = string | null | undefined | (() => string | null | undefined | Promise<string | null | undefined>);

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
  /**
   * The service worker `enablePush` registers (default `/tocsin-sw.js`, served by Tocsin);
   * null: use the worker already controlling the page (one that imports Tocsin's).
   */
  serviceWorkerUrl?: string | null;
  /** The scope to register it with (default: its folder). */
  serviceWorkerScope?: string;
  /** For tests and other runtimes: the browser features Web Push uses. */
  pushEnvironment?: PushEnvironment;
  /** Called when a browser notification is clicked. */
  onNotificationClick?: (item: AnyNotification) => void;
  /** For tests and other runtimes: the `io` function and `fetch` to use. */
  io?: IoFactory;
  fetch?: typeof fetch;
  /** Randomness for reconnection jitter (tests). */
  random?: () => number;
}

/** Items per inbox page unless `pageSize` says otherwise. */
export const DEFAULT_PAGE_SIZE = 50;

/** Notifications held in memory unless `maxItems` says otherwise. */
export const DEFAULT_MAX_ITEMS = 500;
