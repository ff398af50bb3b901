// The client core against a real Socket.IO server that speaks Tocsin's protocol (events,
// acks, `connect_error` reasons, `auth.since`) — the lifecycle without a browser. The same
// core runs against the real Tocsin server in the Playwright tests (tests/e2e).
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";

import { Server, type Socket as ServerSocket } from "socket.io";
import { io } from "socket.io-client";

import { TocsinClient, type TocsinClientOptions, type TocsinState } from "../src/core/client.js";

interface Handshake {
  token: unknown;
  since: unknown;
}

class ProtocolServer {
  http: HttpServer;
  sio: Server;
  url = "";
  handshakes: Handshake[] = [];
  valid = new Set(["good"]);
  expired = new Set<string>();
  marked: unknown[] = [];
  inboxItems: Record<string, unknown>[] = [];
  inboxUnread = 0;
  httpInbox: Record<string, unknown>[] = [];
  httpRequests: string[] = [];

  constructor() {
    this.http = createServer((req, res) => {
      this.httpRequests.push(`${req.method} ${req.url}`);
      res.setHeader("Content-Type", "application/json");
      if (req.url?.startsWith("/api/v1/inbox/unread-count")) {
        res.end(JSON.stringify({ count: 7 }));
      } else if (req.url?.startsWith("/api/v1/inbox")) {
        const before = Number(new URL(req.url, "http://x").searchParams.get("before"));
        const items = this.httpInbox.filter((n) => (n.cursor as number) < before).slice(0, 2);
        const more = this.httpInbox.some((n) => (n.cursor as number) < (items.at(-1)?.cursor as number));
        res.end(JSON.stringify({ items, nextBefore: more ? items.at(-1)?.cursor : null }));
      } else {
        res.statusCode = 404;
        res.end("{}");
      }
    });
    this.sio = new Server(this.http);
    this.sio.use((socket, next) => {
      const auth = socket.handshake.auth as Record<string, unknown>;
      this.handshakes.push({ token: auth.token, since: auth.since });
      const token = String(auth.token ?? "");
      if (!token) return next(Object.assign(new Error("Unauthorized"), { data: { reason: "missing_token" } }));
      if (this.expired.has(token)) return next(Object.assign(new Error("Unauthorized"), { data: { reason: "expired" } }));
      if (!this.valid.has(token)) return next(Object.assign(new Error("Unauthorized"), { data: { reason: "invalid_token" } }));
      next();
    });
    this.sio.on("connection", (socket: ServerSocket) => {
      socket.emit("clients-count", { count: this.sio.sockets.sockets.size });
      socket.on("inbox", (_data, ack) => ack({ ok: true, items: this.inboxItems, nextBefore: null, unreadCount: this.inboxUnread }));
      socket.on("mark-read", (data, ack) => {
        this.marked.push(data);
        ack({ ok: true, ids: data.ids, unreadCount: 0 });
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  emit(event: string, payload: unknown): void {
    this.sio.emit(event, payload);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.sio.close(() => resolve()));
  }
}

function waitFor(client: TocsinClient, check: (state: TocsinState) => boolean, what: string, timeoutMs = 5000): Promise<TocsinState> {
  return new Promise((resolve, reject) => {
    if (check(client.getState())) return resolve(client.getState());
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out waiting for ${what}; state: ${JSON.stringify({ ...client.getState(), notifications: undefined })}`));
    }, timeoutMs);
    const unsubscribe = client.subscribe(() => {
      if (check(client.getState())) {
        clearTimeout(timer);
        unsubscribe();
        resolve(client.getState());
      }
    });
  });
}

function email(cursor: number) {
  return { id: `e${cursor}`, subject: `Courrier ${cursor}`, from: "Greffe <greffe@tj.fr>", userId: "alice", tenantId: "firm-a", timestamp: "2026-01-07T09:00:00.000Z", cursor, read: false };
}

describe("TocsinClient against a Socket.IO server", () => {
  let server: ProtocolServer;
  const clients: TocsinClient[] = [];
  const make = (options: TocsinClientOptions = {}) => {
    const client = new TocsinClient({ url: server.url, io, token: "good", reconnectDelay: 20, transports: ["websocket"], fetch: globalThis.fetch, ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    server = new ProtocolServer();
    await server.start();
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.dispose();
    server.handshakes = [];
    server.valid = new Set(["good"]);
    server.expired.clear();
    server.inboxItems = [];
    server.inboxUnread = 0;
  });
  after(async () => server.stop());

  it("connects, loads the inbox, receives, de-duplicates and counts", async () => {
    server.inboxItems = [{ ...email(1), event: "email-received" }];
    server.inboxUnread = 1;
    const client = make();
    await waitFor(client, (s) => s.connected && s.unreadCount === 1 && s.items.length === 1, "inbox loaded");
    assert.equal(client.getState().clientsCount, 1);
    server.emit("email-received", email(2));
    server.emit("email-received", email(2));
    server.emit("deadline-alert", { id: "d3", dossierNumber: "D-1", message: "OQTF délai expire demain!", urgency: "critical", deadlineType: "OQTF", remainingDays: 1, userId: "alice", tenantId: "firm-a", timestamp: "2026-01-07T09:00:00.000Z", cursor: 3, read: false });
    const state = await waitFor(client, (s) => s.notifications.deadlines.length === 1, "deadline");
    assert.deepEqual(state.notifications.emails.map((n) => n.id), ["e2", "e1"]);
    assert.equal(state.unreadCount, 3);
    assert.equal(state.since, 3);
  });

  it("marks read through the mark-read event and its ack", async () => {
    const client = make();
    await waitFor(client, (s) => s.connected, "connected");
    server.emit("email-received", email(5));
    await waitFor(client, (s) => s.unreadCount === 1, "one unread");
    await client.markAsRead("e5");
    assert.deepEqual(server.marked.at(-1), { ids: ["e5"] });
    assert.equal(client.getState().unreadCount, 0);
    assert.equal(client.getState().items[0]?.read, true);
  });

  it("mirrors notifications-read from other tabs", async () => {
    const client = make();
    await waitFor(client, (s) => s.connected, "connected");
    server.emit("email-received", email(8));
    server.emit("email-received", email(9));
    await waitFor(client, (s) => s.unreadCount === 2, "two unread");
    server.emit("notifications-read", { ids: ["e8"], all: false, unreadCount: 1 });
    const state = await waitFor(client, (s) => s.unreadCount === 1, "mirrored");
    assert.equal(state.items.find((n) => n.id === "e8")?.read, true);
  });

  it("reconnects after the server drops it, sending the last cursor as auth.since", async () => {
    const client = make();
    await waitFor(client, (s) => s.connected, "connected");
    server.emit("email-received", email(41));
    await waitFor(client, (s) => s.since === 41, "cursor 41");
    server.sio.disconnectSockets(true); // closes the transport: like a server going away
    await waitFor(client, (s) => !s.connected, "disconnected");
    await waitFor(client, (s) => s.connected, "reconnected");
    assert.equal(server.handshakes.at(-1)?.since, 41);
  });

  it("refreshes the session after a server disconnect, then reconnects with the new token", async () => {
    let refreshed = 0;
    const client = make({
      token: () => "good",
      refreshSession: async () => {
        refreshed += 1;
        server.valid.add("fresh");
        return "fresh";
      },
    });
    await waitFor(client, (s) => s.connected, "connected");
    server.sio.disconnectSockets(false); // "io server disconnect", as on session expiry
    await waitFor(client, (s) => !s.connected, "disconnected");
    await waitFor(client, (s) => s.connected, "reconnected");
    assert.equal(refreshed, 1);
    assert.equal(server.handshakes.at(-1)?.token, "fresh");
  });

  it("refreshes an expired session after connect_error, then connects", async () => {
    server.expired.add("old");
    server.valid.add("new");
    const client = make({ token: "old", refreshSession: () => "new" });
    const state = await waitFor(client, (s) => s.connected, "connected after refresh");
    assert.equal(state.error, null);
    assert.deepEqual(server.handshakes.map((h) => h.token), ["old", "new"]);
  });

  it("stops on a refusal it cannot fix, and says why", async () => {
    const client = make({ token: "forged" });
    const state = await waitFor(client, (s) => s.error !== null, "refused");
    assert.equal(state.error, "Unauthorized");
    assert.equal(state.errorReason, "invalid_token");
    assert.equal(state.connected, false);
    assert.equal(state.reconnectAt, null, "no retry scheduled");
    assert.equal(server.handshakes.length, 1);
  });

  it("does not reconnect when reconnect is false", async () => {
    const client = make({ reconnect: false });
    await waitFor(client, (s) => s.connected, "connected");
    server.sio.disconnectSockets(true);
    const state = await waitFor(client, (s) => !s.connected, "disconnected");
    assert.equal(state.reconnectAt, null);
  });

  it("pages the HTTP inbox on resync", async () => {
    server.httpInbox = [50, 49, 48, 47, 46].map((c) => ({ ...email(c), event: "email-received" }));
    const client = make();
    await waitFor(client, (s) => s.connected, "connected");
    server.emit("resync", { reason: "too_many", since: 45, before: 51 });
    const state = await waitFor(client, (s) => s.items.length === 5 && s.unreadCount === 7, "resynced");
    assert.deepEqual(state.items.map((n) => n.cursor), [50, 49, 48, 47, 46]);
    assert.ok(server.httpRequests.some((r) => r.startsWith("GET /api/v1/inbox?limit=200&before=51")));
  });

  it("logs like the seed with debug", async () => {
    const lines: string[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
    try {
      const client = make({ debug: true, tenantId: "firm-a" });
      await waitFor(client, (s) => s.connected, "connected");
    } finally {
      console.log = original;
    }
    assert.ok(lines.includes("[WebSocket] Connected"), lines.join("\n"));
    assert.ok(lines.includes("[WebSocket] Joined tenant: firm-a"));
  });
});
