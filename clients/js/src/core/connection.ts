/**
 * The client's Socket.IO connection: opening it with the token and the last cursor, and
 * keeping it open.
 *
 * - Connects with the page's session cookie (same origin) or a token (`auth.token`).
 * - Reconnects with backoff and jitter from `reconnectDelay`; after a refusal for an
 *   expired session, or a server disconnect (the server ends a socket when its session
 *   expires), it first calls `refreshSession`.
 * - Sends the last cursor as `auth.since` on every attempt, so the server replays what was
 *   missed.
 *
 * What Tocsin sends on the socket is not handled here: `listen` gets each new socket.
 */
import { io as defaultIo, type Socket } from "socket.io-client";

import { backoffDelay } from "./backoff.js";
import type { Logger } from "./log.js";
import type { IoFactory, TocsinClientOptions } from "./options.js";
import type { ClientState } from "./state.js";

/** What the connection tells its client. */
export interface ConnectionHooks {
  /** A new socket was made: listen to Tocsin's events on it. */
  listen: (socket: Socket) => void;
  /** Connected (again): load what may have changed meanwhile. */
  connected: () => void;
}

export class Connection {
  private socket: Socket | null = null;
  private wanted = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshing: Promise<void> | null = null;
  /** The token `refreshSession` gave, which replaces the option's. */
  private token: string | null = null;

  constructor(
    private readonly options: Readonly<TocsinClientOptions>,
    private readonly state: ClientState,
    private readonly log: Logger,
    private readonly hooks: ConnectionHooks,
  ) {
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
  }

  /** The socket (connected or not), once one was made. */
  get current(): Socket | null {
    return this.socket;
  }

  /** The socket while connected, else null. */
  get live(): Socket | null {
    return this.state.status.connected ? this.socket : null;
  }

  /** Open the connection (and keep it open, reconnecting as configured). */
  connect(): void {
    if (this.stopped) return;
    this.wanted = true;
    if (this.state.status.connected || this.state.status.connecting) return;
    this.cancelRetry();
    this.open();
  }

  /** Close the connection and stop reconnecting. */
  disconnect(): void {
    this.wanted = false;
    this.cancelRetry();
    this.socket?.disconnect();
    this.state.set({ connected: false, connecting: false, reconnectAt: null });
  }

  /** Close it for good (call `disconnect` first). */
  dispose(): void {
    this.stopped = true;
    this.socket?.removeAllListeners();
    this.socket = null;
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
  }

  /** The token to send: the one a session refresh gave, else the option's. */
  async currentToken(): Promise<string | null> {
    return this.token ?? (await this.resolveToken());
  }

  private open(): void {
    const socket = this.socket ?? this.createSocket();
    this.socket = socket;
    this.state.set({ connecting: true, reconnectAt: null });
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
    this.hooks.listen(socket);
    return socket;
  }

  private async authPayload(): Promise<Record<string, unknown>> {
    const auth: Record<string, unknown> = {};
    const token = await this.currentToken();
    if (token) auth.token = token;
    if (this.state.store.since !== null) auth.since = this.state.store.since;
    return auth;
  }

  private async resolveToken(): Promise<string | null> {
    const source = this.options.token;
    const value = typeof source === "function" ? await source() : source;
    return typeof value === "string" && value ? value : null;
  }

  private onConnect = (): void => {
    this.attempt = 0;
    this.state.set({ connected: true, connecting: false, error: null, errorReason: null });
    this.log("Connected");
    if (this.options.tenantId) this.log(`Joined tenant: ${this.options.tenantId}`);
    if (this.options.userId) this.log(`Joined user: ${this.options.userId}`);
    this.hooks.connected();
  };

  private onConnectError = (error: Error & { data?: { reason?: string } }): void => {
    const reason = typeof error?.data?.reason === "string" ? error.data.reason : null;
    this.state.set({ connected: false, connecting: false, error: error?.message ?? "connect_error", errorReason: reason });
    this.log(`Connection error: ${error?.message}${reason ? ` (${reason})` : ""}`);
    if (reason === "invalid_since") {
      this.state.store.since = null; // start over from the inbox
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
    this.state.set({ connected: false, connecting: false, clientsCount: 0 });
    this.log(`Disconnected: ${reason}`);
    if (reason === "io client disconnect") return;
    // "io server disconnect": the server ended the socket, as it does when the session
    // expires; refresh it first. Anything else is the network or a restarting server.
    this.scheduleRetry({ refresh: reason === "io server disconnect" });
  };

  private onOnline = (): void => {
    const status = this.state.status;
    if (this.wanted && !status.connected && !status.connecting && this.retryTimer) {
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
    this.state.status.reconnectAt = Date.now() + delay;
    this.state.changed();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      const pending = this.refreshing ?? Promise.resolve();
      void pending.then(() => {
        this.refreshing = null;
        if (this.wanted && !this.state.status.connected && !this.state.status.connecting) this.open();
      });
    }, delay);
  }

  private cancelRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.state.status.reconnectAt !== null) this.state.status.reconnectAt = null;
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
}
