/**
 * Tocsin's service worker (`/tocsin-sw.js`; `dist/tocsin-sw.js` in the npm package), built
 * into one classic script with nothing to import at run time, so that an app can serve it
 * as it is or pull it into its own worker with `importScripts("/tocsin-sw.js")`.
 *
 * - `push`: shows the notification (tag `tocsin:<id>`, `requireInteraction` when critical)
 *   and sets the app badge to the unread count.
 * - `notificationclick`: marks it read on the server and focuses the app (or opens it) at
 *   the notification's URL.
 * - `pushsubscriptionchange`: subscribes again and hands the new subscription to Tocsin.
 *
 * `?icon=/path.png` on the worker's URL gives the notifications an icon.
 */
/// <reference lib="webworker" />
import { safeActionUrl } from "../core/item.js";
import { openFromNotification, resubscribe, showPush, type WorkerScope } from "./handlers.js";

declare const self: ServiceWorkerGlobalScope;

/** Not in TypeScript's lib yet (Firefox fires it; Chromium does not). */
interface PushSubscriptionChangeEvent extends ExtendableEvent {
  readonly oldSubscription: PushSubscription | null;
  readonly newSubscription: PushSubscription | null;
}

const scope: WorkerScope = self;
const icon = safeActionUrl(new URL(self.location.href).searchParams.get("icon"));

// A new version takes over at once: it holds no caches that the old one's pages rely on.
self.addEventListener("install", () => void self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  event.waitUntil(showPush(scope, event.data ? event.data.text() : null, icon));
});

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(openFromNotification(scope, event.notification));
});

self.addEventListener("pushsubscriptionchange", (event) => {
  const change = event as PushSubscriptionChangeEvent;
  change.waitUntil(resubscribe(scope, change.oldSubscription ?? null, change.newSubscription ?? null));
});
