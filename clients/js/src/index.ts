/** `@tocsin/client`: the framework-free core. React bindings are in `@tocsin/client/react`. */
export {
  TocsinClient,
  type ActAck,
  type ArchiveAllOptions,
  type ChangeAck,
  type TocsinClientOptions,
  type TocsinState,
} from "./core/client.js";
export {
  base64UrlToBytes,
  DEFAULT_SERVICE_WORKER_URL,
  type PushEnvironment,
  type PushOptions,
  type PushReason,
  type PushResult,
  type PushState,
} from "./core/push.js";
export { getSharedClient, retainClient } from "./core/shared.js";
export { backoffDelay, type BackoffOptions } from "./core/backoff.js";
export { compareCursor } from "./core/cursor.js";
export { messages, type Locale, type Messages } from "./core/i18n.js";
export { NotificationStore } from "./core/store.js";
export { inInbox, takenAction } from "./core/item.js";
export { inQuietHours, mergePreferences, normalisePreferences } from "./core/preferences.js";
export {
  BrowserNotifier,
  describeForBrowser,
  requestNotificationPermission,
  shouldNotifyInBrowser,
  type BrowserNotificationSpec,
} from "./core/notify.js";
export * from "./core/types.js";
