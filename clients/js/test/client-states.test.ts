// The client's inbox-state actions and events (DESIGN §7) against a real Socket.IO server
// answering as Tocsin does: acks with counts, refusals, notifications-changed,
// notification-due and preferences. The real server is driven by tests/e2e.
import assert from "node:assert/strict";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";

import { Server, type Socket as ServerSocket } from "socket.io";
import { io } from "socket.io-client";

import { TocsinClient, type TocsinState } from "../src/core/client.js";
import { DEFAULT_PREFERENCES, type AnyNotification, type Preferences } from "../src/core/types.js";

type Ack = (answer: unknown) => void;

class StatesServer {
  http: HttpServer = createServer((_req, res) => {
    res.statusCode = 404;
    res.end("{}");
  });
  sio = new Server(this.http);
  url = "";
  received: [string, unknown][] = [];
  inbox: Record<string, unknown>[] = [];
  archived: Record<string, unknown>[] = [];
  snoozed: Record<string, unknown>[] = [];
  /** The inbox's counts every `inbox` answer carries (default: the unread items of the list). */
  counts: { unreadCount: number; unseenCount: number } | null = null;
  preferences: Preferences = structuredClone(DEFAULT_PREFERENCES);
  preferenceReads = 0;
  refuse = new Set<string>();

  constructor() {
    this.sio.on("connection", (socket: ServerSocket) => {
      socket.on("inbox", (data: { archived?: boolean; snoozed?: boolean }, ack: Ack) => {
        this.received.push(["inbox", data]);
        const items = data?.archived ? this.archived : data?.snoozed ? this.snoozed : this.inbox;
        ack({ ok: true, items, nextBefore: null, ...(this.counts ?? { unreadCount: items.filter((n) => !n.read).length, unseenCount: 0 }) });
      });
      socket.on("preferences", (_data: unknown, ack: Ack) => {
        this.preferenceReads += 1;
        ack({ ok: true, preferences: this.preferences });
      });
      socket.on("set-preferences", (data: { preferences: Partial<Preferences> }, ack: Ack) => {
        this.received.push(["set-preferences", data]);
        this.preferences = { ...this.preferences, ...data.preferences } as Preferences;
        ack({ ok: true, preferences: this.preferences });
      });
      for (const event of ["mark-seen", "archive", "unarchive", "archive-all", "snooze", "unsnooze"]) {
        socket.on(event, (data: { ids?: string[] }, ack: Ack) => {
          this.received.push([event, data]);
          if (this.refuse.has(event)) ack({ ok: false, error: "validation_failed", message: "until: must be at least 60 seconds ahead", field: "until" });
          else ack({ ok: true, ids: data.ids ?? [], unreadCount: 1, unseenCount: 0 });
        });
      }
      socket.on("act", (data: { id: string; action: string }, ack: Ack) => {
        this.received.push(["act", data]);
        // Already acted from another device: the first action is the answer.
        ack({ ok: true, id: data.id, action: "acknowledge", actedAt: "2026-01-07T10:00:00.000Z", alreadyActed: true, unreadCount: 0, unseenCount: 0 });
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
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
      reject(new Error(`timed out waiting for ${what}`));
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

function email(cursor: number, extra: Record<string, unknown> = {}) {
  return { event: "email-received", id: `e${cursor}`, subject: `Courrier ${cursor}`, from: "Greffe <greffe@tj.fr>", userId: "alice", tenantId: "firm-a", timestamp: "2026-01-07T09:00:00.000Z", cursor, read: false, seen: false, archived: false, snoozedUntil: null, actionTaken: null, critical: false, ...extra };
}

const ids = (items: readonly AnyNotification[]) => items.map((n) => n.id);

describe("TocsinClient inbox states", () => {
  let server: StatesServer;
  const clients: TocsinClient[] = [];
  const connected = async () => {
    const client = new TocsinClient({ url: server.url, io, token: "good", transports: ["websocket"], browserNotifications: false });
    clients.push(client);
    await waitFor(client, (s) => s.connected && s.preferencesLoaded && s.items.length === server.inbox.length, "connected, inbox and preferences loaded");
    return client;
  };

  before(async () => {
    server = new StatesServer();
    await server.start();
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.dispose();
    server.received = [];
    server.inbox = [];
    server.archived = [];
    server.snoozed = [];
    server.counts = null;
    server.refuse.clear();
    server.preferences = structuredClone(DEFAULT_PREFERENCES);
    server.preferenceReads = 0;
  });
  after(async () => server.stop());

  it("loads the preferences on connect and refetches them when the tenant's change", async () => {
    server.preferences.events["deadline-alert"].browser = true;
    const client = await connected();
    assert.equal(client.getState().preferences.events["deadline-alert"].browser, true);
    server.preferences.events["dossier-updated"].browser = true;
    server.sio.emit("preferences-changed", { scope: "tenant" });
    await waitFor(client, (s) => s.preferences.events["dossier-updated"].browser, "tenant defaults refetched");
    server.sio.emit("preferences-changed", { preferences: { ...server.preferences, quietHours: { timezone: "Europe/Paris", start: "20:00", end: "08:00", days: [1] } } });
    await waitFor(client, (s) => s.preferences.quietHours?.start === "20:00", "pushed document taken");
    assert.equal(server.preferenceReads, 2);
  });

  it("sets preferences with a partial document and keeps the server's answer", async () => {
    const client = await connected();
    const saved = await client.setPreferences({ digest: { email: "daily" } });
    assert.deepEqual(server.received.at(-1), ["set-preferences", { preferences: { digest: { email: "daily" } } }]);
    assert.equal(saved?.digest.email, "daily");
    assert.equal(client.getState().preferences.digest.at, "08:00");
  });

  it("archives, unarchives and snoozes here at once, then takes the ack's counts", async () => {
    server.inbox = [email(3), email(2), email(1)];
    const client = await connected();
    const pending = client.archive("e2");
    assert.deepEqual(ids(client.getState().items), ["e3", "e1"], "at once");
    assert.deepEqual(ids(client.getState().archivedItems), ["e2"]);
    await pending;
    assert.deepEqual(server.received.at(-1), ["archive", { ids: ["e2"] }]);
    assert.deepEqual([client.getState().unreadCount, client.getState().unseenCount], [1, 0]);
    await client.unarchive(["e2"]);
    assert.deepEqual(ids(client.getState().items), ["e3", "e2", "e1"]);
    const until = new Date(Date.now() + 3_600_000);
    await client.snooze("e3", until);
    assert.deepEqual(server.received.at(-1), ["snooze", { ids: ["e3"], until: until.toISOString() }]);
    assert.deepEqual(ids(client.getState().snoozedItems), ["e3"]);
    await client.archiveAll({ onlyRead: true });
    assert.deepEqual(server.received.at(-1), ["archive-all", { upTo: 3, onlyRead: true }]);
  });

  it("puts an item back when the server refuses, and says why", async () => {
    server.inbox = [email(1)];
    server.refuse.add("snooze");
    const client = await connected();
    const answer = await client.snooze("e1", new Date(Date.now() + 1000));
    assert.equal(answer, null);
    const state = client.getState();
    assert.deepEqual(ids(state.items), ["e1"]);
    assert.equal(state.items[0]?.snoozedUntil, null);
    assert.match(state.actionError ?? "", /at least 60 seconds/);
  });

  it("records an action; an action already taken elsewhere is the one shown", async () => {
    server.inbox = [email(1, { actions: [{ id: "acknowledge", label: "Accuser réception", primary: true }, { id: "later", label: "Plus tard" }] })];
    const client = await connected();
    const ack = await client.act("e1", "later");
    assert.equal(ack?.alreadyActed, true);
    const item = client.getState().items[0]!;
    assert.equal(item.actionTaken, "acknowledge");
    assert.equal(item.actedAt, "2026-01-07T10:00:00.000Z");
    assert.equal(item.read, true);
  });

  it("marks seen only what is not seen yet", async () => {
    server.inbox = [email(2), email(1, { seen: true })];
    const client = await connected();
    await client.markSeen(["e2", "e1"]);
    assert.deepEqual(server.received.at(-1), ["mark-seen", { ids: ["e2"] }]);
    assert.equal(await client.markSeen(["e2"]), null, "nothing left to send");
  });

  it("mirrors notifications-changed and fetches items it did not hold", async () => {
    server.inbox = [email(2), email(1)];
    const client = await connected();
    server.sio.emit("notifications-changed", { change: "archived", ids: ["e1"], unreadCount: 1, unseenCount: 1 });
    await waitFor(client, (s) => s.items.length === 1 && s.unreadCount === 1, "archived elsewhere");
    // Unsnoozed on another device: this client never held e7, so it loads the inbox again.
    server.inbox = [email(7), email(2)];
    const asked = server.received.length;
    server.sio.emit("notifications-changed", { change: "unsnoozed", ids: ["e7"], unreadCount: 2, unseenCount: 2 });
    const state = await waitFor(client, (s) => s.items.some((n) => n.id === "e7"), "the unsnoozed item");
    assert.deepEqual(server.received[asked], ["inbox", { limit: 50 }]);
    assert.deepEqual(ids(state.items), ["e7", "e2"]);
  });

  it("brings a snoozed item back on top on notification-due, and says so", async () => {
    server.inbox = [email(5), email(4)];
    const client = await connected();
    const returned: string[] = [];
    client.onDue((item) => returned.push(item.id));
    server.sio.emit("notification-due", { ...email(1), read: false, unreadCount: 3, unseenCount: 3 });
    const state = await waitFor(client, (s) => s.items.length === 3, "due item");
    assert.deepEqual(ids(state.items), ["e1", "e5", "e4"]);
    assert.equal(state.unreadCount, 3);
    assert.deepEqual(returned, ["e1"]);
  });

  it("loads the archive on demand", async () => {
    server.archived = [email(9, { archived: true, read: true }), email(8, { archived: true })];
    const client = await connected();
    assert.equal(client.getState().archivedLoaded, false);
    await client.loadArchived();
    assert.deepEqual(server.received.at(-1), ["inbox", { archived: true, limit: 50 }]);
    const state = client.getState();
    assert.equal(state.archivedLoaded, true);
    assert.deepEqual(ids(state.archivedItems), ["e9", "e8"]);
    assert.deepEqual(ids(state.items), []);
  });

  it("loads the snoozed items on demand, with the inbox's counts", async () => {
    const monday = "2026-03-16T08:00:00.000Z";
    server.inbox = [email(3), email(2)];
    const client = await connected();
    assert.equal(client.getState().snoozedLoaded, false);
    server.snoozed = [email(9, { snoozedUntil: monday }), email(2, { snoozedUntil: monday })];
    server.counts = { unreadCount: 1, unseenCount: 1 }; // e2 was snoozed elsewhere meanwhile
    await client.loadSnoozed();
    assert.deepEqual(server.received.at(-1), ["inbox", { snoozed: true, limit: 50 }]);
    const state = client.getState();
    assert.equal(state.snoozedLoaded, true);
    assert.equal(state.loadingSnoozed, false);
    assert.deepEqual(ids(state.snoozedItems), ["e9", "e2"]);
    assert.deepEqual(ids(state.items), ["e3"]);
    assert.deepEqual([state.unreadCount, state.unseenCount], [1, 1]);
  });

  it("follows snoozes made elsewhere, loading those it did not hold, and drops those woken meanwhile", async () => {
    const monday = "2026-03-16T08:00:00.000Z";
    server.inbox = [email(3)];
    server.snoozed = [email(1, { snoozedUntil: monday })];
    const client = await connected();
    await client.loadSnoozed();
    server.sio.emit("notifications-changed", { change: "snoozed", ids: ["e3"], until: monday, unreadCount: 0, unseenCount: 0 });
    await waitFor(client, (s) => s.snoozedItems.length === 2 && s.items.length === 0, "snoozed in another tab");
    // e1 was woken, e7 snoozed on another device; this client held only e1.
    server.snoozed = [email(7, { snoozedUntil: monday }), email(3, { snoozedUntil: monday })];
    const asked = server.received.length;
    server.sio.emit("notifications-changed", { change: "snoozed", ids: ["e7"], until: monday, unreadCount: 0, unseenCount: 0 });
    const state = await waitFor(client, (s) => s.snoozedItems.some((n) => n.id === "e7"), "the list loaded again");
    assert.deepEqual(server.received[asked], ["inbox", { snoozed: true, limit: 50 }]);
    assert.deepEqual(ids(state.snoozedItems), ["e7", "e3"]);
  });

  it("unsnoozes back into the inbox, and puts a refused one back in the list", async () => {
    const monday = "2026-03-16T08:00:00.000Z";
    server.inbox = [email(2)];
    server.snoozed = [email(1, { snoozedUntil: monday })];
    const client = await connected();
    await client.loadSnoozed();
    server.refuse.add("unsnooze");
    assert.equal(await client.unsnooze("e1"), null);
    assert.deepEqual(ids(client.getState().snoozedItems), ["e1"]);
    assert.equal(client.getState().snoozedItems[0]?.snoozedUntil, monday);
    server.refuse.clear();
    const pending = client.unsnooze("e1");
    assert.deepEqual(ids(client.getState().items), ["e2", "e1"], "at once");
    assert.deepEqual(ids(client.getState().snoozedItems), []);
    await pending;
    assert.deepEqual(server.received.at(-1), ["unsnooze", { ids: ["e1"] }]);
  });

  it("lets a woken item leave the snoozed list (notification-due)", async () => {
    server.inbox = [email(2)];
    server.snoozed = [email(1, { snoozedUntil: "2026-03-16T08:00:00.000Z" })];
    const client = await connected();
    await client.loadSnoozed();
    server.sio.emit("notification-due", { ...email(1), unreadCount: 2, unseenCount: 2 });
    const state = await waitFor(client, (s) => s.snoozedItems.length === 0, "woken");
    assert.deepEqual(ids(state.items), ["e1", "e2"]);
    assert.equal(state.unreadCount, 2);
  });
});
