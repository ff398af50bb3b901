// The service worker: its handlers run on a stand-in of the worker's global scope whose
// fetch reaches a real HTTP server (Tocsin's routes), and the shipped file itself
// (dist/tocsin-sw.js) is evaluated as a browser evaluates a classic worker script. The real
// worker runs in Chromium in tests/e2e/test_service_worker.py.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { runInNewContext } from "node:vm";

import { openFromNotification, resubscribe, showPush, type WindowLike, type WorkerScope } from "../src/sw/handlers.js";
import { notificationFor, parsePushPayload } from "../src/sw/payload.js";

const KEY = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: unknown;
}

class TocsinApi {
  server: Server;
  origin = "";
  seen: Seen[] = [];
  unreadAfterRead = 2;
  readStatus = 200;

  constructor() {
    this.server = createServer((req, res) => {
      void this.read(req).then((body) => {
        this.seen.push({ method: req.method ?? "", url: req.url ?? "", contentType: req.headers["content-type"], body });
        res.setHeader("Content-Type", "application/json");
        if (req.url === "/api/v1/inbox/read") {
          res.statusCode = this.readStatus;
          res.end(JSON.stringify({ ids: (body as { ids: string[] }).ids, unreadCount: this.unreadAfterRead, unseenCount: 0 }));
        } else if (req.url === "/api/v1/push/public-key") {
          res.end(JSON.stringify({ publicKey: KEY }));
        } else if (req.url === "/api/v1/push/subscriptions") {
          res.statusCode = req.method === "POST" ? 201 : 204;
          res.end();
        } else {
          res.statusCode = 404;
          res.end("{}");
        }
      });
    });
  }

  private async read(req: IncomingMessage): Promise<unknown> {
    let text = "";
    for await (const chunk of req) text += String(chunk);
    return text ? JSON.parse(text) : null;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

class StandInWindow implements WindowLike {
  focused = false;
  navigatedTo: string | null = null;

  constructor(
    public url: string,
    private readonly controlled = true,
  ) {}

  async focus() {
    this.focused = true;
    return this;
  }

  async navigate(url: string) {
    if (!this.controlled) throw new TypeError("This service worker is not the client's active service worker.");
    this.navigatedTo = url;
    this.url = url;
    return this;
  }
}

/** A worker scope whose browser parts keep what they were asked; fetch is the real one. */
function standInScope(origin: string, windows: StandInWindow[] = []) {
  const shown: { title: string; options: NotificationOptions | undefined }[] = [];
  const badges: (number | "cleared")[] = [];
  const opened: string[] = [];
  const subscribed: PushSubscriptionOptionsInit[] = [];
  const scope: WorkerScope = {
    registration: {
      scope: `${origin}/`,
      async showNotification(title, options) {
        shown.push({ title, options });
      },
      pushManager: {
        async subscribe(options: PushSubscriptionOptionsInit) {
          subscribed.push(options);
          return subscription(`https://fcm.googleapis.com/fcm/send/new`, null);
        },
      } as unknown as PushManager,
    },
    clients: {
      async matchAll(options) {
        assert.deepEqual(options, { type: "window", includeUncontrolled: true });
        return windows;
      },
      async openWindow(url) {
        opened.push(url);
        return null;
      },
    },
    navigator: {
      language: "fr-FR",
      async setAppBadge(count?: number) {
        badges.push(count ?? 0);
      },
      async clearAppBadge() {
        badges.push("cleared");
      },
    },
    location: { origin },
    fetch: (input, init) => fetch(input, init),
  };
  return { scope, shown, badges, opened, subscribed };
}

function subscription(endpoint: string, key: ArrayBuffer | null): PushSubscription {
  return {
    endpoint,
    options: { applicationServerKey: key, userVisibleOnly: true },
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: "p", auth: "a" } }),
  } as unknown as PushSubscription;
}

const CRITICAL = {
  id: "n-42",
  event: "deadline-alert",
  title: "⚠️ Délai critique",
  body: "Délai OQTF expire demain\nD-2026-021",
  url: "/?dossier=D-2026-021",
  critical: true,
  unreadCount: 3,
};

describe("the push payload", () => {
  it("becomes a notification tagged as the page tags it, kept until dismissed when critical", () => {
    const spec = notificationFor(parsePushPayload(JSON.stringify(CRITICAL)), null);
    assert.deepEqual(spec, {
      title: "⚠️ Délai critique",
      options: {
        body: "Délai OQTF expire demain\nD-2026-021",
        tag: "tocsin:n-42",
        requireInteraction: true,
        data: { id: "n-42", url: "/?dossier=D-2026-021" },
      },
    });
    const calm = notificationFor(parsePushPayload(JSON.stringify({ ...CRITICAL, critical: false, url: undefined })), "/icon.png");
    assert.equal(calm.options.requireInteraction, false);
    assert.equal(calm.options.icon, "/icon.png");
    assert.deepEqual(calm.options.data, { id: "n-42", url: null });
  });

  it("drops a link that is not http(s) or a path of the site", () => {
    assert.equal(parsePushPayload(JSON.stringify({ ...CRITICAL, url: "javascript:alert(1)" }))?.url, null);
    assert.equal(parsePushPayload(JSON.stringify({ ...CRITICAL, url: "//evil.example/x" }))?.url, null);
  });

  it("an unreadable push still shows something (userVisibleOnly), in the browser's language", () => {
    for (const data of [null, "", "not json", "[1]", JSON.stringify({ title: "no id" })]) {
      assert.equal(parsePushPayload(data), null, String(data));
    }
    assert.deepEqual(notificationFor(null, null, "fr-FR"), { title: "Tocsin", options: { body: "Nouvelle notification", data: { id: null, url: null } } });
    assert.equal(notificationFor(null, null, "en-GB").options.body, "New notification");
  });
});

describe("the service worker's handlers", () => {
  const api = new TocsinApi();
  before(() => api.start());
  after(() => api.server.close());
  beforeEach(() => {
    api.seen = [];
    api.readStatus = 200;
  });

  it("push: shows the notification and sets the app badge (cleared at 0)", async () => {
    const { scope, shown, badges } = standInScope(api.origin);
    await showPush(scope, JSON.stringify(CRITICAL));
    assert.equal(shown.length, 1);
    assert.equal(shown[0]!.title, CRITICAL.title);
    assert.equal(shown[0]!.options?.requireInteraction, true);
    assert.equal(shown[0]!.options?.tag, "tocsin:n-42");
    await showPush(scope, JSON.stringify({ ...CRITICAL, id: "n-43", unreadCount: 0 }));
    await showPush(scope, "garbage");
    assert.deepEqual(badges, [3, "cleared"]);
    assert.equal(shown[2]!.options?.body, "Nouvelle notification");
  });

  it("notificationclick: marks it read (same-origin JSON), sets the badge from the answer, focuses the app at its URL", async () => {
    const tab = new StandInWindow(`${api.origin}/?reconnectDelay=300`);
    const { scope, badges, opened } = standInScope(api.origin, [tab]);
    let closed = false;
    await openFromNotification(scope, { data: { id: "n-42", url: "/?dossier=D-2026-021" }, close: () => (closed = true) });
    assert.ok(closed);
    assert.deepEqual(api.seen, [{ method: "POST", url: "/api/v1/inbox/read", contentType: "application/json", body: { ids: ["n-42"] } }]);
    assert.deepEqual(badges, [2]);
    assert.ok(tab.focused);
    assert.equal(tab.navigatedTo, `${api.origin}/?dossier=D-2026-021`);
    assert.deepEqual(opened, []);
  });

  it("notificationclick without a URL focuses an open window as it is; with none open, opens the app", async () => {
    const tab = new StandInWindow(`${api.origin}/somewhere`);
    const withTab = standInScope(api.origin, [tab]);
    await openFromNotification(withTab.scope, { data: { id: "n-1", url: null }, close: () => undefined });
    assert.ok(tab.focused);
    assert.equal(tab.navigatedTo, null);
    const none = standInScope(api.origin);
    await openFromNotification(none.scope, { data: { id: "n-1", url: "/?dossier=D-1" }, close: () => undefined });
    await openFromNotification(none.scope, { data: { id: "n-2" }, close: () => undefined });
    assert.deepEqual(none.opened, [`${api.origin}/?dossier=D-1`, `${api.origin}/`]);
  });

  it("notificationclick: a window the worker cannot navigate gets a new one; a failed mark-read still opens the app", async () => {
    api.readStatus = 401;
    const tab = new StandInWindow(`${api.origin}/`, false);
    const { scope, opened, badges } = standInScope(api.origin, [tab]);
    await openFromNotification(scope, { data: { id: "n-5", url: "/?dossier=D-5" }, close: () => undefined });
    assert.deepEqual(opened, [`${api.origin}/?dossier=D-5`]);
    assert.deepEqual(badges, []);
  });

  it("pushsubscriptionchange: subscribes again with the old key, hands the new one over, has the old one forgotten", async () => {
    const { scope, subscribed } = standInScope(api.origin);
    const key = new Uint8Array([4, 1, 2]).buffer;
    await resubscribe(scope, subscription("https://fcm.googleapis.com/fcm/send/old", key), null);
    assert.equal(subscribed.length, 1);
    assert.equal(subscribed[0]!.applicationServerKey, key);
    assert.deepEqual(
      api.seen.map((s) => [s.method, s.url, s.body]),
      [
        ["POST", "/api/v1/push/subscriptions", { endpoint: "https://fcm.googleapis.com/fcm/send/new", expirationTime: null, keys: { p256dh: "p", auth: "a" } }],
        ["DELETE", "/api/v1/push/subscriptions", { endpoint: "https://fcm.googleapis.com/fcm/send/old" }],
      ],
    );
  });

  it("pushsubscriptionchange with nothing to go on asks the server for its key", async () => {
    const { scope, subscribed } = standInScope(api.origin);
    await resubscribe(scope, null, null);
    assert.equal(subscribed[0]!.applicationServerKey, KEY);
    assert.deepEqual(api.seen.map((s) => `${s.method} ${s.url}`), ["GET /api/v1/push/public-key", "POST /api/v1/push/subscriptions"]);
  });
});

describe("the shipped worker file", () => {
  it("is one classic script that listens to the worker's events", async () => {
    const out = mkdtempSync(join(tmpdir(), "tocsin-sw-"));
    try {
      execFileSync(process.execPath, [join(process.cwd(), "scripts/build.mjs"), "lib"], {
        env: { ...process.env, TOCSIN_LIB_OUT: out },
        stdio: "pipe",
      });
      const source = readFileSync(join(out, "tocsin-sw.js"), "utf8");
      assert.doesNotMatch(source, /^\s*(import|export)\b/m, "nothing to import at run time");
      const listeners = new Map<string, (event: unknown) => void>();
      const shown: unknown[] = [];
      const waited: Promise<unknown>[] = [];
      const self = {
        location: { href: "https://app.example/tocsin-sw.js?icon=/logo.png", origin: "https://app.example" },
        navigator: { language: "fr" },
        registration: { scope: "https://app.example/", showNotification: async (...args: unknown[]) => void shown.push(args) },
        clients: { claim: async () => undefined },
        skipWaiting: async () => undefined,
        addEventListener: (type: string, listener: (event: unknown) => void) => listeners.set(type, listener),
      };
      runInNewContext(source, { self, URL, console });
      assert.deepEqual([...listeners.keys()].sort(), ["activate", "install", "notificationclick", "push", "pushsubscriptionchange"]);
      listeners.get("push")!({ data: { text: () => JSON.stringify(CRITICAL) }, waitUntil: (p: Promise<unknown>) => waited.push(p) });
      await Promise.all(waited);
      // Objects made inside the script's realm: compared by their JSON.
      assert.deepEqual(JSON.parse(JSON.stringify(shown)), [
        [
          CRITICAL.title,
          { body: CRITICAL.body, tag: "tocsin:n-42", requireInteraction: true, data: { id: "n-42", url: CRITICAL.url }, icon: "/logo.png" },
        ],
      ]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
