// enablePush / disablePush / refreshPush of the client core against a real HTTP server that
// answers Tocsin's push routes. The browser's side (Notification, the service worker
// container, PushManager) does not exist in Node: small stand-ins play it here, keeping what
// they were asked. The real browser runs in tests/e2e/test_service_worker.py.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";

import { TocsinClient } from "../src/core/client.js";
import { base64UrlToBytes, initialPushState, type PushEnvironment } from "../src/core/push.js";

const KEY = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";
const OTHER_KEY = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

class PushApi {
  server: Server;
  url = "";
  seen: Seen[] = [];
  publicKey: string | null = KEY;
  subscribeStatus = 201;

  constructor() {
    this.server = createServer((req, res) => {
      void this.read(req).then((body) => {
        this.seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          authorization: req.headers.authorization,
          contentType: req.headers["content-type"],
          body,
        });
        if (req.url === "/api/v1/push/public-key") {
          res.setHeader("Content-Type", "application/json");
          res.end(JSON.stringify({ publicKey: this.publicKey }));
        } else if (req.url === "/api/v1/push/subscriptions" && req.method === "POST") {
          res.statusCode = this.subscribeStatus;
          res.end(this.subscribeStatus === 201 ? "" : JSON.stringify({ error: "validation", field: "endpoint" }));
        } else if (req.url === "/api/v1/push/subscriptions" && req.method === "DELETE") {
          res.statusCode = 204;
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

  requests(): string[] {
    return this.seen.map((s) => `${s.method} ${s.url}`);
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

/** What the browser does, kept for the assertions. */
class Browser {
  events: string[] = [];
  permission: NotificationPermission = "default";
  answer: NotificationPermission = "granted";
  subscription: StandInSubscription | null = null;
  subscribeError: Error | null = null;
  registrations: { url: string; options: RegistrationOptions | undefined }[] = [];
  scopesAsked: (string | undefined)[] = [];
  private endpoints = 0;

  env(): PushEnvironment {
    const browser = this;
    const pushManager = {
      async getSubscription() {
        return browser.subscription;
      },
      async subscribe(options: PushSubscriptionOptionsInit) {
        browser.events.push("subscribe");
        if (browser.subscribeError) throw browser.subscribeError;
        browser.endpoints += 1;
        const key = options.applicationServerKey as Uint8Array;
        assert.equal(options.userVisibleOnly, true);
        browser.subscription = new StandInSubscription(`https://fcm.googleapis.com/fcm/send/e${browser.endpoints}`, key, browser);
        return browser.subscription;
      },
    };
    const registration = { active: {}, pushManager };
    return {
      notification: {
        get permission() {
          return browser.permission;
        },
        async requestPermission() {
          browser.events.push("requestPermission");
          browser.permission = browser.answer;
          return browser.answer;
        },
      },
      serviceWorker: {
        async register(url: string, options?: RegistrationOptions) {
          browser.events.push("register");
          browser.registrations.push({ url, options });
          return registration;
        },
        async getRegistration(scope?: string) {
          browser.scopesAsked.push(scope);
          return browser.registrations.length > 0 || browser.subscription ? registration : undefined;
        },
        ready: Promise.resolve(registration),
      } as unknown as ServiceWorkerContainer,
      pushManager: true,
      href: "http://127.0.0.1/app/",
    };
  }
}

class StandInSubscription {
  unsubscribed = false;
  readonly options: { applicationServerKey: ArrayBuffer };

  constructor(
    readonly endpoint: string,
    key: Uint8Array,
    private readonly browser: Browser,
  ) {
    this.options = { applicationServerKey: key.slice().buffer as ArrayBuffer };
  }

  async unsubscribe(): Promise<boolean> {
    this.unsubscribed = true;
    if (this.browser.subscription === this) this.browser.subscription = null;
    return true;
  }

  toJSON() {
    return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: "p", auth: "a" } };
  }
}

describe("Web Push from the page", () => {
  const api = new PushApi();
  let browser: Browser;
  const clients: TocsinClient[] = [];

  const client = (options: { token?: string; serviceWorkerUrl?: string | null } = {}) => {
    const made = new TocsinClient({
      autoConnect: false,
      browserNotifications: false,
      url: api.url,
      pushEnvironment: browser.env(),
      ...options,
    });
    clients.push(made);
    return made;
  };

  before(() => api.start());
  after(() => {
    for (const made of clients) made.dispose();
    api.server.close();
  });
  beforeEach(() => {
    browser = new Browser();
    api.seen = [];
    api.publicKey = KEY;
    api.subscribeStatus = 201;
  });

  it("asks permission first, then registers, subscribes with the key and hands the subscription to Tocsin", async () => {
    const tocsin = client({ token: "user-token" });
    assert.equal(tocsin.getState().push, "default");
    const result = await tocsin.enablePush();
    assert.deepEqual(result, { state: "subscribed", reason: null, message: null });
    assert.deepEqual(browser.events, ["requestPermission", "register", "subscribe"]);
    assert.deepEqual(browser.registrations, [{ url: "/tocsin-sw.js", options: { updateViaCache: "none" } }]);
    assert.deepEqual(new Uint8Array(browser.subscription!.options.applicationServerKey), base64UrlToBytes(KEY));
    assert.deepEqual(api.requests(), ["GET /api/v1/push/public-key", "POST /api/v1/push/subscriptions"]);
    const posted = api.seen[1]!;
    assert.equal(posted.authorization, "Bearer user-token");
    assert.equal(posted.contentType, "application/json");
    assert.deepEqual(posted.body, browser.subscription!.toJSON());
    const state = tocsin.getState();
    assert.equal(state.push, "subscribed");
    assert.equal(state.pushReason, null);
    assert.equal(state.pushChecked, true);
  });

  it("says push is not configured when the server has no key, and registers nothing", async () => {
    api.publicKey = null;
    const result = await client().enablePush();
    assert.equal(result.state, "unavailable");
    assert.equal(result.reason, "not_configured");
    assert.match(result.message ?? "", /TOCSIN_VAPID_PRIVATE_KEY/);
    assert.deepEqual(browser.events, ["requestPermission"]);
    assert.deepEqual(api.requests(), ["GET /api/v1/push/public-key"]);
  });

  it("stops at a refusal or a dismissed prompt, before asking the server anything", async () => {
    browser.answer = "denied";
    const tocsin = client();
    assert.deepEqual(await tocsin.enablePush(), { state: "denied", reason: "denied", message: "notifications are blocked for this site" });
    assert.equal(tocsin.getState().push, "denied");
    browser = new Browser();
    browser.answer = "default";
    const other = client();
    const dismissed = await other.enablePush();
    assert.equal(dismissed.state, "default");
    assert.equal(dismissed.reason, "dismissed");
    assert.deepEqual(api.requests(), []);
  });

  it("reports a browser that cannot subscribe (headless Chromium: no push service) and posts nothing", async () => {
    browser.subscribeError = Object.assign(new Error("Registration failed - permission denied"), { name: "AbortError" });
    const result = await client().enablePush();
    assert.equal(result.state, "unavailable");
    assert.equal(result.reason, "subscribe_failed");
    assert.match(result.message ?? "", /AbortError: Registration failed - permission denied/);
    assert.deepEqual(api.requests(), ["GET /api/v1/push/public-key"]);
  });

  it("unsubscribes the browser again when Tocsin refuses the subscription", async () => {
    api.subscribeStatus = 422;
    const result = await client().enablePush();
    assert.equal(result.reason, "refused");
    assert.match(result.message ?? "", /HTTP 422/);
    assert.equal(browser.subscription, null, "the browser's subscription was dropped");
  });

  it("registers nothing with serviceWorkerUrl null: the page's own worker is used", async () => {
    browser.permission = "granted";
    const result = await client({ serviceWorkerUrl: null }).enablePush();
    assert.equal(result.state, "subscribed");
    assert.deepEqual(browser.events, ["subscribe"]);
  });

  it("one subscription however many clicks", async () => {
    const tocsin = client();
    const [first, second] = await Promise.all([tocsin.enablePush(), tocsin.enablePush()]);
    assert.deepEqual(first, second);
    assert.deepEqual(browser.events, ["requestPermission", "register", "subscribe"]);
  });

  it("disablePush unsubscribes and has Tocsin forget the endpoint", async () => {
    const tocsin = client();
    await tocsin.enablePush();
    const endpoint = browser.subscription!.endpoint;
    api.seen = [];
    const result = await tocsin.disablePush();
    assert.equal(result.state, "default");
    assert.equal(browser.subscription, null);
    assert.deepEqual(api.requests(), ["DELETE /api/v1/push/subscriptions"]);
    assert.deepEqual(api.seen[0]!.body, { endpoint });
    assert.equal(tocsin.getState().push, "default");
  });

  it("refreshPush finds a subscription and hands it to Tocsin again (it follows whoever is signed in)", async () => {
    await client().enablePush();
    api.seen = [];
    const later = client();
    assert.equal(later.getState().pushChecked, false);
    const result = await later.refreshPush();
    assert.equal(result.state, "subscribed");
    assert.deepEqual(api.requests(), ["GET /api/v1/push/public-key", "POST /api/v1/push/subscriptions"]);
    assert.deepEqual(browser.scopesAsked.at(-1), "http://127.0.0.1/", "the registration of the worker's folder");
    assert.equal(later.getState().pushChecked, true);
  });

  it("refreshPush: a subscription made with a replaced key needs enabling again", async () => {
    await client().enablePush();
    api.publicKey = OTHER_KEY;
    assert.equal((await client().refreshPush()).state, "default");
    const again = await client().enablePush();
    assert.equal(again.state, "subscribed");
    assert.deepEqual(new Uint8Array(browser.subscription!.options.applicationServerKey), base64UrlToBytes(OTHER_KEY));
  });

  it("refreshPush without a server key, or without a subscription", async () => {
    api.publicKey = null;
    assert.equal((await client().refreshPush()).state, "unavailable");
    api.publicKey = KEY;
    assert.equal((await client().refreshPush()).state, "default");
  });

  it("without the Push API: unsupported, yet the click still asks for browser notifications", async () => {
    const env = { ...browser.env(), pushManager: false };
    assert.equal(initialPushState(env), "unsupported");
    const tocsin = new TocsinClient({ autoConnect: false, browserNotifications: false, url: api.url, pushEnvironment: env });
    clients.push(tocsin);
    assert.equal(tocsin.getState().push, "unsupported");
    const result = await tocsin.enablePush();
    assert.equal(result.reason, "unsupported");
    assert.deepEqual(browser.events, ["requestPermission"]);
    assert.equal(browser.permission, "granted");
  });
});

describe("base64UrlToBytes", () => {
  it("decodes a VAPID public key to its 65-byte point", () => {
    const bytes = base64UrlToBytes(KEY);
    assert.equal(bytes.length, 65);
    assert.equal(bytes[0], 4);
  });
});
