/**
 * How the client asks Tocsin something: the Socket.IO event with its acknowledgement while
 * connected, else the same request over HTTP (the server answers both the same way).
 */
import type { Socket } from "socket.io-client";

import type { Logger } from "./log.js";

/** An acknowledgement: `{ok: true, …}` or `{ok: false, error, message, field?}`. */
export type Ack = { ok: boolean; error?: string; message?: string; [key: string]: unknown };

/** How long an acknowledgement may take before the request counts as failed. */
export const ACK_TIMEOUT_MS = 10_000;

/** What the transport needs from its client. */
export interface TransportHost {
  /** The socket when connected, else null (requests then go over HTTP). */
  socket: () => Socket | null;
  /** The token for `Authorization: Bearer` (null: the session cookie). */
  token: () => Promise<string | null>;
  /** Tocsin's origin (default: the page's own). */
  url?: string;
  fetch?: typeof fetch;
  log: Logger;
}

export class Transport {
  /** Why the last `send` failed (the server's message, a timeout, an HTTP status). */
  lastFailure: string | null = null;

  constructor(private readonly host: TransportHost) {}

  /** The event's acknowledgement. Raises when it is a refusal or does not come in time. */
  async emit<T>(socket: Socket, event: string, body: Record<string, unknown>): Promise<Ack & T> {
    const ack = (await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, body)) as Ack & T;
    if (!ack?.ok) throw new Error(`${event}: ${ack?.message ?? ack?.error ?? "refused"}`);
    return ack;
  }

  /**
   * A change: the event, or `method path` with `httpBody` (default: the same body) while
   * disconnected. Null when refused or unreachable (`lastFailure` says why).
   */
  async send(
    event: string,
    body: Record<string, unknown>,
    method: string,
    path: string,
    httpBody: unknown = body,
  ): Promise<Ack | null> {
    try {
      const socket = this.host.socket();
      if (socket) return await this.emit(socket, event, body);
      return { ok: true, ...(await this.http<Record<string, unknown>>(method, path, httpBody)) };
    } catch (error) {
      this.host.log(`${event} failed:`, error);
      this.lastFailure = error instanceof Error ? error.message : String(error);
      return null;
    }
  }

  /** A question: the event's answer, or `GET path?<body as query>` while disconnected. Raises on failure. */
  async query<T>(event: string, body: Record<string, unknown>, path: string): Promise<T> {
    const socket = this.host.socket();
    if (socket) return this.emit<T>(socket, event, body);
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(body)) params.set(key, String(value));
    const search = params.toString();
    return this.http<T>("GET", search ? `${path}?${search}` : path);
  }

  /**
   * An HTTP request to Tocsin's API with the session cookie or token: the answer's JSON
   * (undefined when it has no body, as a 201 or 204). Raises on a non-2xx answer.
   */
  async http<T>(method: string, path: string, body?: unknown): Promise<T> {
    const doFetch = this.host.fetch ?? globalThis.fetch;
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = await this.host.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const base = (this.host.url ?? "").replace(/\/$/, "");
    const response = await doFetch(`${base}${path}`, {
      method,
      headers,
      credentials: "include",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}
