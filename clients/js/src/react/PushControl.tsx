/**
 * « Activer les notifications »: one click asks the browser's permission and subscribes this
 * browser to Web Push (`client.enablePush`), so that critical alerts reach the user with no
 * tab open. It then says « Notifications push activées », or why push is not available
 * (blocked, not configured on the server, the browser could not subscribe).
 *
 * `compact` (the banner in the NotificationCenter's panel) shows only while there is
 * something to do or to say after a click; the full form (the preferences view, the page)
 * always says where things stand, and can turn push off.
 */
import { useEffect, useLayoutEffect, useState, type ReactElement } from "react";

import type { TocsinClient } from "../core/client.js";
import { messages, type Locale, type Messages } from "../core/i18n.js";
import type { PushReason, PushState } from "../core/push.js";
import { injectStyles } from "./styles.js";
import { useTocsin, type UseWebSocketOptions } from "./useWebSocket.js";

export interface PushSettingsProps {
  t: Messages;
  client: TocsinClient;
  push: PushState;
  pushReason: PushReason | null;
  pushChecked: boolean;
  /** The panel's banner: shown only while there is something to do or to say. */
  compact?: boolean;
}

function permission(): NotificationPermission {
  return typeof Notification === "undefined" ? "denied" : Notification.permission;
}

/** What stands in the way, in words (null: nothing to say). */
function reasonText(reason: PushReason | null, t: Messages["push"]): string | null {
  switch (reason) {
    case "denied":
      return t.denied;
    case "unsupported":
      return t.unsupported;
    case "not_configured":
      return t.notConfigured;
    case "worker_failed":
      return t.workerFailed;
    case "subscribe_failed":
      return t.failed;
    case "refused":
      return t.refused;
    default:
      return null; // dismissed: the button stays, nothing to explain
  }
}

/** Where things stand when nothing was tried here. */
function stateText(push: PushState, t: Messages["push"]): string | null {
  const allowed = permission() === "granted";
  switch (push) {
    case "subscribed":
      return t.enabled;
    case "denied":
      return t.denied;
    case "unsupported":
      return allowed ? t.browserOnly : t.unsupported;
    case "unavailable":
      return allowed ? t.browserOnly : t.notConfigured;
    default:
      return null;
  }
}

/** The control, given the client and its push state (the NotificationCenter's form). */
export function PushSettings({ t: texts, client, push, pushReason, pushChecked, compact = false }: PushSettingsProps): ReactElement | null {
  const t = texts.push;
  const [busy, setBusy] = useState(false);
  const [clicked, setClicked] = useState(false);

  useEffect(() => {
    if (!pushChecked) void client.refreshPush();
  }, [client, pushChecked]);

  // Push to turn on, or at least the browser's permission to ask for.
  const canEnable = push === "default" || (push !== "denied" && push !== "subscribed" && permission() === "default");
  const text = push === "subscribed" ? t.enabled : (reasonText(pushReason, t) ?? (compact ? null : stateText(push, t)));
  const said = clicked && text !== null;
  if (compact && !(pushChecked && canEnable) && !said) return null;

  const enable = () => {
    setBusy(true);
    setClicked(true);
    void client.enablePush().finally(() => setBusy(false));
  };
  const disable = () => {
    setBusy(true);
    setClicked(true);
    void client.disablePush().finally(() => setBusy(false));
  };
  const tone = push === "subscribed" ? " is-on" : pushReason && pushReason !== "dismissed" ? " is-off" : "";

  return (
    <div className={`tocsin-push${compact ? " is-compact" : ""}${tone}`} data-testid="tocsin-push" data-state={push} data-reason={pushReason ?? ""}>
      <p role="status" aria-live="polite" data-testid="tocsin-push-status">
        {text ?? (canEnable ? t.hint : "")}
      </p>
      {canEnable && (
        <button type="button" className="tocsin-btn is-primary" onClick={enable} disabled={busy} data-testid="tocsin-push-enable">
          {busy ? t.enabling : t.enable}
        </button>
      )}
      {!compact && push === "subscribed" && (
        <button type="button" className="tocsin-btn" onClick={disable} disabled={busy} data-testid="tocsin-push-disable">
          {t.disable}
        </button>
      )}
    </div>
  );
}

export interface PushControlProps {
  /** `fr` (default) or `en`. */
  locale?: Locale;
  /** Options of the shared client (used when it is first created). */
  options?: UseWebSocketOptions;
  /** Show only while there is something to do or to say. */
  compact?: boolean;
}

/** « Activer les notifications » on its own, for a page or a settings screen. */
export function PushControl({ locale = "fr", options, compact = false }: PushControlProps): ReactElement | null {
  const state = useTocsin({ locale, ...options });
  useLayoutEffect(() => injectStyles(), []);
  return (
    <PushSettings
      t={messages(locale)}
      client={state.client}
      push={state.push}
      pushReason={state.pushReason}
      pushChecked={state.pushChecked}
      compact={compact}
    />
  );
}
