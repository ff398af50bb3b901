/** `@tocsin/client/react`: the seed's hook and NotificationCenter. */
export {
  TocsinProvider,
  useTocsin,
  useWebSocket,
  type UseTocsinResult,
  type UseWebSocketOptions,
  type UseWebSocketResult,
} from "./useWebSocket.js";
export { NotificationCenter, type NotificationCenterProps, type TabKey } from "./NotificationCenter.js";
export { PushControl, PushSettings, type PushControlProps, type PushSettingsProps } from "./PushControl.js";
export { requestNotificationPermission } from "../core/notify.js";
