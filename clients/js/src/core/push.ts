/**
 * Web Push from the page (DESIGN §8): reach the user when no tab is open.
 *
 * `enable` runs from a click (« Activer les notifications »): it asks the browser's
 * permission first, while the click still counts as a user gesture, then fetches the
 * server's VAPID key (`GET /api/v1/push/public-key`), registers Tocsin's service worker,
 * subscribes (`userVisibleOnly`) and gives the subscription to Tocsin
 * (`POST /api/v1/push/subscriptions`, with the session cookie or the client's token).
 * `disable` unsubscribes and tells Tocsin (`DELETE`). `refresh` finds out where things stand
 * without asking anything, and hands an existing subscription to Tocsin again, so that it
 * follows whoever is signed in on this browser.
 *
 * Each outcome lands in the client's state as `push` and, when something stood in the way,
 * `pushReason` (translated by the UI).
 */
import type { Logger } from "./log.js";
import type { ClientState } from "./state.js";
import type { Transport } from "./transport.js";

/**
 * Where push stands on this browser: `unsupported` (no service worker or Push API),
 * `unavailable` (the server has no VAPID key, or the browser could not subscribe), `default`
 * (not subscribed yet), `denied` (notifications blocked for the site), `subscribed`.
 */
export type PushState = "unsupported" | "unavailable" | "default" | "denied" | "subscribed";

/** Why the last attempt did not end subscribed. */
export type PushReason =
  | "unsupported" // no service worker or Push API in this browser
  | "denied" // the user (or the browser's settings) blocked notifications
  | "dismissed" // the permission prompt was closed without an answer
  | "not_configured" // the server has no VAPID key (TOCSIN_VAPID_PRIVATE_KEY)
  | "worker_failed" // the service worker could not be registered
  | "subscribe_failed" // the browser's push service refused or could not be reached
  | "refused"; // Tocsin refused the subscription (or could not be reached)

/** What `enable`, `disable` and `refresh` resolve to. */
export interface PushResult {
  state: PushState;
  reason: PushReason | null;
  /** What happened, in English, for logs and developers (the UI translates `reason`). */
  message: string | null;
}

export interface PushOptions {
  /**
   * The service worker to register (default `/tocsin-sw.js`, which Tocsin serves). `null`:
   * register nothing and use the worker that already controls the page (an app whose own
   * worker imports Tocsin's with `importScripts`).
   */
  serviceWorkerUrl?: string | null;
  /** The worker's scope (default: its folder; Tocsin's `/tocsin-sw.js` may take `/`). */
  scope?: string;
}

/** The browser features push needs; `browserPushEnvironment()` gives the real ones. */
export interface PushEnvironment {
  notification: {
    readonly permission: NotificationPermission;
    requestPermission(): Promise<NotificationPermission>;
  } | null;
  serviceWorker: ServiceWorkerContainer | null;
  /** Whether `PushManager` exists (Safari on iOS has it only in an installed web app). */
  pushManager: boolean;
  /** The page's URL, to resolve the worker's. */
  href: string;
}

export const DEFAULT_SERVICE_WORKER_URL = "/tocsin-sw.js";
export const PUBLIC_KEY_PATH = "/api/v1/push/public-key";
export const SUBSCRIPTIONS_PATH = "/api/v1/push/subscriptions";

/** This browser's features (all missing outside a browser). */
export function browserPushEnvironment(): PushEnvironment {
  const hasWindow = typeof window !== "undefined" && typeof navigator !== "undefined";
  return {
    notification: typeof Notification === "undefined" ? null : Notification,
    serviceWorker: hasWindow && "serviceWorker" in navigator ? navigator.serviceWorker : null,
    pushManager: hasWindow && "PushManager" in window,
    href: hasWindow ? window.location.href : "http://localhost/",
  };
}

/** The state to show before anything was checked. */
export function initialPushState(env: PushEnvironment): PushState {
  if (!env.notification || !env.serviceWorker || !env.pushManager) return "unsupported";
  return env.notification.permission === "denied" ? "denied" : "default";
}

/** A base64url string (a VAPID public key) as bytes, for `applicationServerKey`. */
export function base64UrlToBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameBytes(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false;
  const view = new Uint8Array(a);
  return view.every((byte, i) => byte === b[i]);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Web Push for one client; its outcomes go into the client's state. */
export class WebPush {
  private pending: Promise<PushResult> | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly state: ClientState,
    private readonly log: Logger,
    private readonly env: PushEnvironment,
    private readonly defaults: PushOptions = {},
  ) {
    state.set({ push: initialPushState(env) });
  }

  /** Subscribe to push (call it from a click). Resolves with the outcome; never rejects. */
  enable(options: PushOptions = {}): Promise<PushResult> {
    return this.once(() => this.subscribe({ ...this.defaults, ...options }));
  }

  /** Unsubscribe this browser, here and on the server. Never rejects. */
  disable(options: PushOptions = {}): Promise<PushResult> {
    return this.once(() => this.unsubscribe({ ...this.defaults, ...options }));
  }

  /** Find out where push stands (asks the user nothing). Never rejects. */
  refresh(options: PushOptions = {}): Promise<PushResult> {
    return this.once(() => this.check({ ...this.defaults, ...options }));
  }

  /** One operation at a time: a second click while one runs gets the same outcome. */
  private once(run: () => Promise<PushResult>): Promise<PushResult> {
    if (this.pending) return this.pending;
    const running = run()
      .catch((error: unknown): PushResult => ({ state: this.state.status.push, reason: null, message: describe(error) }))
      .then((result) => {
        this.pending = null;
        this.state.set({ push: result.state, pushReason: result.reason, pushChecked: true });
        if (result.message) this.log(`Push: ${result.message}`);
        return result;
      });
    this.pending = running;
    return running;
  }

  private async subscribe(options: PushOptions): Promise<PushResult> {
    const { notification, serviceWorker } = this.env;
    if (!notification) return { state: "unsupported", reason: "unsupported", message: "no Notification API" };
    // First, while the click's user activation holds: browsers refuse a prompt without one.
    const permission = await this.askPermission(notification);
    if (!serviceWorker || !this.env.pushManager) {
      return { state: "unsupported", reason: "unsupported", message: "no service worker or Push API in this browser" };
    }
    if (permission === "denied") return { state: "denied", reason: "denied", message: "notifications are blocked for this site" };
    if (permission !== "granted") return { state: "default", reason: "dismissed", message: "the permission prompt was dismissed" };
    const key = await this.publicKey();
    if (key === undefined) return { state: "default", reason: "refused", message: `cannot reach ${PUBLIC_KEY_PATH}` };
    if (key === null) {
      return {
        state: "unavailable",
        reason: "not_configured",
        message: "push is not configured on this server (TOCSIN_VAPID_PRIVATE_KEY): notifications reach open tabs only",
      };
    }
    let registration: ServiceWorkerRegistration;
    try {
      registration = await this.register(serviceWorker, options);
    } catch (error) {
      return { state: "unavailable", reason: "worker_failed", message: `the service worker did not start: ${describe(error)}` };
    }
    const applicationServerKey = base64UrlToBytes(key);
    let subscription: PushSubscription;
    try {
      const existing = await registration.pushManager.getSubscription();
      // A subscription made with another key (the server's was replaced) cannot be reused.
      if (existing && !sameBytes(existing.options.applicationServerKey, applicationServerKey)) await existing.unsubscribe();
      subscription =
        existing && sameBytes(existing.options.applicationServerKey, applicationServerKey)
          ? existing
          : await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
    } catch (error) {
      return { state: "unavailable", reason: "subscribe_failed", message: `the browser could not subscribe: ${describe(error)}` };
    }
    try {
      await this.transport.http("POST", SUBSCRIPTIONS_PATH, subscription.toJSON());
    } catch (error) {
      // Tocsin will never push to it: do not leave the browser subscribed for nothing.
      await subscription.unsubscribe().catch(() => false);
      return { state: "unavailable", reason: "refused", message: `Tocsin refused the subscription: ${describe(error)}` };
    }
    return { state: "subscribed", reason: null, message: null };
  }

  private async unsubscribe(options: PushOptions): Promise<PushResult> {
    const subscription = await this.currentSubscription(options);
    if (subscription) {
      const { endpoint } = subscription;
      await subscription.unsubscribe();
      try {
        await this.transport.http("DELETE", SUBSCRIPTIONS_PATH, { endpoint });
      } catch (error) {
        // The browser's side is gone: Tocsin's next push there is answered 404/410 and dropped.
        this.log("Push: Tocsin was not told of the unsubscription:", error);
      }
    }
    return { state: initialPushState(this.env), reason: null, message: null };
  }

  private async check(options: PushOptions): Promise<PushResult> {
    const initial = initialPushState(this.env);
    if (initial !== "default") return { state: initial, reason: null, message: null };
    const subscription = await this.currentSubscription(options);
    const key = await this.publicKey();
    if (key === null) return { state: "unavailable", reason: "not_configured", message: null };
    if (!subscription || this.env.notification?.permission !== "granted") return { state: "default", reason: null, message: null };
    if (key !== undefined && !sameBytes(subscription.options.applicationServerKey, base64UrlToBytes(key))) {
      return { state: "default", reason: null, message: "subscribed with a key the server no longer has" };
    }
    // Hand it over again: Tocsin may have dropped it, or another user signed in here since.
    try {
      await this.transport.http("POST", SUBSCRIPTIONS_PATH, subscription.toJSON());
    } catch (error) {
      this.log("Push: could not hand the subscription to Tocsin again:", error);
    }
    return { state: "subscribed", reason: null, message: null };
  }

  private async askPermission(notification: NonNullable<PushEnvironment["notification"]>): Promise<NotificationPermission> {
    if (notification.permission !== "default") return notification.permission;
    try {
      return await notification.requestPermission();
    } catch {
      return notification.permission;
    }
  }

  /** The server's VAPID key; null when it has none, undefined when unreachable. */
  private async publicKey(): Promise<string | null | undefined> {
    try {
      const answer = await this.transport.http<{ publicKey?: unknown }>("GET", PUBLIC_KEY_PATH);
      return typeof answer?.publicKey === "string" && answer.publicKey ? answer.publicKey : null;
    } catch (error) {
      this.log("Push: no public key:", error);
      return undefined;
    }
  }

  private workerUrl(options: PushOptions): string | null {
    return options.serviceWorkerUrl === undefined ? DEFAULT_SERVICE_WORKER_URL : options.serviceWorkerUrl;
  }

  private async register(container: ServiceWorkerContainer, options: PushOptions): Promise<ServiceWorkerRegistration> {
    const url = this.workerUrl(options);
    if (url === null) return container.ready;
    const registration = await container.register(url, {
      ...(options.scope ? { scope: options.scope } : {}),
      updateViaCache: "none",
    });
    await activated(registration);
    return registration;
  }

  private async currentSubscription(options: PushOptions): Promise<PushSubscription | null> {
    const container = this.env.serviceWorker;
    if (!container) return null;
    const url = this.workerUrl(options);
    // The registration whose scope covers the worker's own scope (its folder by default).
    const scope = options.scope ?? (url === null ? undefined : new URL(".", new URL(url, this.env.href)).href);
    const registration = await container.getRegistration(scope);
    return registration ? registration.pushManager.getSubscription() : null;
  }
}

/** Resolves once the registration has an active worker (subscribing needs one). */
function activated(registration: ServiceWorkerRegistration): Promise<void> {
  if (registration.active) return Promise.resolve();
  const worker = registration.installing ?? registration.waiting;
  if (!worker) return Promise.reject(new Error("the registration has no worker"));
  return new Promise((resolve, reject) => {
    const onChange = () => {
      if (worker.state === "activated") {
        worker.removeEventListener("statechange", onChange);
        resolve();
      } else if (worker.state === "redundant") {
        worker.removeEventListener("statechange", onChange);
        reject(new Error("the service worker failed to install"));
      }
    };
    worker.addEventListener("statechange", onChange);
    onChange();
  });
}
