/**
 * What Tocsin's service worker does, as functions of the few parts of the worker's global
 * scope they use (so that they can be run on a stand-in): show a push, open the app from a
 * clicked notification and mark it read, re-subscribe when the push service changed the
 * subscription, keep the app badge at the unread count.
 *
 * The worker talks to Tocsin at its own origin with the session cookie: a worker's fetch is
 * same-origin, which the server's rule for cookie-authenticated writes asks for, along with
 * `Content-Type: application/json`.
 */
import { dataOf, notificationFor, parsePushPayload } from "./payload.js";

/** A window of the app, as `clients.matchAll` gives it. */
export interface WindowLike {
  readonly url: string;
  focus(): Promise<unknown>;
  navigate(url: string): Promise<unknown>;
}

/** The parts of `ServiceWorkerGlobalScope` the handlers use. */
export interface WorkerScope {
  readonly registration: {
    readonly scope: string;
    readonly pushManager: PushManager;
    showNotification(title: string, options?: NotificationOptions): Promise<void>;
  };
  readonly clients: {
    matchAll(options: { type: "window"; includeUncontrolled: boolean }): Promise<readonly WindowLike[]>;
    openWindow(url: string): Promise<unknown>;
  };
  readonly navigator: {
    readonly language?: string;
    setAppBadge?(count?: number): Promise<void>;
    clearAppBadge?(): Promise<void>;
  };
  readonly location: { readonly origin: string };
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/** A notification as `notificationclick` gives it. */
export interface ClickedNotification {
  readonly data?: unknown;
  close(): void;
}

export const READ_PATH = "/api/v1/inbox/read";
export const PUBLIC_KEY_PATH = "/api/v1/push/public-key";
export const SUBSCRIPTIONS_PATH = "/api/v1/push/subscriptions";

function warn(what: string, error: unknown): void {
  console.warn(`[tocsin-sw] ${what}:`, error);
}

/** A request to Tocsin's API with the session cookie; the answer's JSON. Raises on a non-2xx. */
async function api(scope: WorkerScope, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await scope.fetch(new URL(path, scope.location.origin).href, {
    method,
    credentials: "include",
    headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  const text = await response.text();
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** Show the app badge with `count` (cleared at 0), where the browser has badges. */
export async function setBadge(scope: WorkerScope, count: number): Promise<void> {
  try {
    if (count > 0) await scope.navigator.setAppBadge?.(count);
    else await scope.navigator.clearAppBadge?.();
  } catch (error) {
    warn("app badge", error); // some platforms allow badges to installed apps only
  }
}

/** `push`: show the notification a push describes (`icon`: the worker's default), and the badge. */
export async function showPush(scope: WorkerScope, data: string | null, icon: string | null = null): Promise<void> {
  const payload = parsePushPayload(data);
  const spec = notificationFor(payload, icon, scope.navigator.language);
  await Promise.all([
    scope.registration.showNotification(spec.title, spec.options),
    payload?.unreadCount != null ? setBadge(scope, payload.unreadCount) : undefined,
  ]);
}

/** Mark one notification read on the server (then the badge follows its count). */
export async function markRead(scope: WorkerScope, id: string): Promise<boolean> {
  try {
    const answer = (await api(scope, "POST", READ_PATH, { ids: [id] })) as { unreadCount?: unknown } | undefined;
    if (typeof answer?.unreadCount === "number") await setBadge(scope, answer.unreadCount);
    return true;
  } catch (error) {
    warn("mark read", error);
    return false;
  }
}

/**
 * Bring the app forward: a window already at `url` is focused; else an open window of the
 * app is focused and taken to `url` (if given); else a new window opens at `url`, or at the
 * worker's scope (the app's root).
 */
export async function focusOrOpen(scope: WorkerScope, url: string | null): Promise<void> {
  const root = scope.registration.scope;
  const target = new URL(url ?? root, root).href;
  try {
    const windows = await scope.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((w) => w.url === target) ?? windows.find((w) => w.url.startsWith(root));
    if (open) {
      await open.focus();
      // Only a window this worker controls can be navigated; another gets a new window.
      if (url && open.url !== target) await open.navigate(target);
      return;
    }
  } catch (error) {
    warn("focus", error);
  }
  try {
    await scope.clients.openWindow(target);
  } catch (error) {
    warn("open window", error);
  }
}

/** `notificationclick`: close it, mark it read and bring the app forward, side by side. */
export async function openFromNotification(scope: WorkerScope, notification: ClickedNotification): Promise<void> {
  notification.close();
  const { id, url } = dataOf(notification);
  await Promise.all([id ? markRead(scope, id) : undefined, focusOrOpen(scope, url)]);
}

/**
 * `pushsubscriptionchange`: the push service replaced (or dropped) the subscription. Take
 * the new one (or subscribe again with the same key, the server's if the old one is gone),
 * give it to Tocsin, then have Tocsin forget the old endpoint.
 *
 * Raises when Tocsin cannot be told (the page hands the subscription over again on its next
 * load, see `refreshPush`).
 */
export async function resubscribe(
  scope: WorkerScope,
  old: PushSubscription | null,
  fresh: PushSubscription | null,
): Promise<void> {
  let subscription = fresh;
  if (!subscription) {
    let key: BufferSource | string | null = old?.options.applicationServerKey ?? null;
    if (!key) {
      const answer = (await api(scope, "GET", PUBLIC_KEY_PATH)) as { publicKey?: unknown } | undefined;
      key = typeof answer?.publicKey === "string" && answer.publicKey ? answer.publicKey : null;
    }
    if (!key) return; // push is no longer configured on the server
    subscription = await scope.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  await api(scope, "POST", SUBSCRIPTIONS_PATH, subscription.toJSON());
  if (old && old.endpoint !== subscription.endpoint) {
    await api(scope, "DELETE", SUBSCRIPTIONS_PATH, { endpoint: old.endpoint }).catch((error: unknown) =>
      warn("forget the old subscription", error),
    );
  }
}
