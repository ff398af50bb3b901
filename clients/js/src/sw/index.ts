/**
 * `@tocsin/client/sw`: the service worker's handlers, for an app that builds its own worker
 * (`dist/tocsin-sw.js` is the ready-made one):
 *
 * ```ts
 * import { openFromNotification, resubscribe, showPush } from "@tocsin/client/sw";
 * self.addEventListener("push", (e) => e.waitUntil(showPush(self, e.data?.text() ?? null)));
 * self.addEventListener("notificationclick", (e) => e.waitUntil(openFromNotification(self, e.notification)));
 * ```
 */
export {
  focusOrOpen,
  markRead,
  openFromNotification,
  resubscribe,
  setBadge,
  showPush,
  type ClickedNotification,
  type WindowLike,
  type WorkerScope,
} from "./handlers.js";
export { notificationFor, parsePushPayload, TAG_PREFIX, type NotificationData, type NotificationSpec, type PushPayload } from "./payload.js";
