/**
 * Browser notifications, one per event however many tabs are open, as the user's preferences
 * say: shown iff the item is critical, or its kind has `browser` on and it is not quiet hours
 * (`shouldNotifyInBrowser`). Critical items stay until dismissed (`requireInteraction`). The
 * default preferences give the seed's policy: new e-mails, critical deadlines, system errors.
 *
 * One tab is elected to show them: it holds a Web Lock for as long as it lives, and the
 * others queue behind it (the next takes over when it closes). Every notification also
 * carries `tag: tocsin:<id>`, so a browser without Web Locks still shows one per event
 * (a second one with the same tag replaces the first), and a localStorage mark keeps a
 * tab without locks from showing what another already showed.
 */
import type { Messages } from "./i18n.js";
import type { Logger } from "./log.js";
import { inQuietHours } from "./preferences.js";
import {
  DEADLINE_ALERT,
  DEFAULT_PREFERENCES,
  DOSSIER_UPDATED,
  EMAIL_RECEIVED,
  SYSTEM_NOTIFICATION,
  type AnyNotification,
  type Preferences,
} from "./types.js";

/** What to show for a notification, or null when the seed shows nothing for it. */
export interface BrowserNotificationSpec {
  title: string;
  body: string;
  tag: string;
  requireInteraction: boolean;
}

/**
 * The rule: a critical item always notifies; any other only when its kind has `browser` on
 * and `now` is not in the quiet hours. `item.critical` missing (a seed server) falls back to
 * the seed's critical: a `critical` deadline or an `error` system notification.
 */
export function shouldNotifyInBrowser(
  item: AnyNotification,
  preferences: Preferences = DEFAULT_PREFERENCES,
  now: Date = new Date(),
): boolean {
  if (isCritical(item)) return true;
  const channels = preferences.events[item.event] ?? DEFAULT_PREFERENCES.events[item.event];
  return Boolean(channels?.browser) && !inQuietHours(preferences.quietHours, now);
}

function isCritical(item: AnyNotification): boolean {
  if (typeof item.critical === "boolean") return item.critical;
  return (
    (item.event === DEADLINE_ALERT && item.urgency === "critical") ||
    (item.event === SYSTEM_NOTIFICATION && item.type === "error")
  );
}

/**
 * What to show for a notification, or null when the rule shows nothing for it (with the
 * default preferences: the seed's e-mails, critical deadlines and system errors).
 */
export function describeForBrowser(
  item: AnyNotification,
  text: Messages,
  preferences: Preferences = DEFAULT_PREFERENCES,
  now: Date = new Date(),
): BrowserNotificationSpec | null {
  if (!shouldNotifyInBrowser(item, preferences, now)) return null;
  const tag = `tocsin:${item.id}`;
  const requireInteraction = isCritical(item);
  switch (item.event) {
    case EMAIL_RECEIVED: {
      const dossier = item.dossierNumber ? ` · ${item.dossierNumber}` : "";
      return { title: text.newEmailTitle, body: `${item.subject}\n${item.from}${dossier}`, tag, requireInteraction };
    }
    case DOSSIER_UPDATED:
      return { title: text.announce.dossier, body: `${item.dossierTitle}\n${item.dossierNumber}`, tag, requireInteraction };
    case DEADLINE_ALERT:
      return {
        title: item.urgency === "critical" ? text.criticalDeadlineTitle : text.announce.deadline,
        body: `${item.message}\n${item.dossierNumber} · ${item.deadlineType}`,
        tag,
        requireInteraction,
      };
    case SYSTEM_NOTIFICATION:
      return { title: item.title, body: item.message, tag, requireInteraction };
    default:
      return null;
  }
}

/** Ask the browser for permission (the seed's `requestNotificationPermission`). */
export async function requestNotificationPermission(): Promise<NotificationPermission> {
  if (typeof Notification === "undefined") return "denied";
  if (Notification.permission !== "default") return Notification.permission;
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

const SHOWN_PREFIX = "tocsin:notified:";
const SHOWN_TTL_MS = 24 * 60 * 60 * 1000;

/** Shows browser notifications from the one elected tab. */
export class BrowserNotifier {
  private leader = false;
  private release: (() => void) | null = null;
  private readonly abort = typeof AbortController === "undefined" ? null : new AbortController();

  constructor(
    private readonly text: Messages,
    private readonly log: Logger,
    scope = "default",
    private readonly onClick?: (item: AnyNotification) => void,
    private readonly preferences: () => Preferences = () => DEFAULT_PREFERENCES,
  ) {
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    if (!locks || !this.abort) {
      this.leader = true; // no election possible: tags and localStorage marks dedupe
      return;
    }
    locks
      .request(`tocsin-browser-notifications:${scope}`, { signal: this.abort.signal }, () => {
        this.leader = true;
        this.log("This tab shows browser notifications");
        return new Promise<void>((resolve) => {
          this.release = resolve;
        });
      })
      .catch(() => undefined); // aborted on dispose
  }

  /** Whether this tab is the one that shows notifications. */
  get isLeader(): boolean {
    return this.leader;
  }

  /**
   * Show the browser notification for a new event (or one back from a snooze: `claim` then
   * names that occurrence, so tabs without Web Locks still show it once), if the rule wants one.
   */
  notify(item: AnyNotification, claim?: string): boolean {
    if (!this.leader || typeof Notification === "undefined") return false;
    if (Notification.permission !== "granted") return false;
    const spec = describeForBrowser(item, this.text, this.preferences());
    if (!spec || !this.claim(claim ?? spec.tag)) return false;
    try {
      const shown = new Notification(spec.title, {
        body: spec.body,
        tag: spec.tag,
        requireInteraction: spec.requireInteraction,
      });
      if (this.onClick) {
        const onClick = this.onClick;
        shown.onclick = () => {
          if (typeof window !== "undefined") window.focus();
          onClick(item);
        };
      }
      return true;
    } catch (error) {
      // Android Chrome allows only service-worker notifications.
      this.log("Browser notification failed:", error);
      return false;
    }
  }

  /** Step down (the next tab in line takes over). */
  dispose(): void {
    this.leader = false;
    this.release?.();
    this.abort?.abort();
  }

  private claim(tag: string): boolean {
    try {
      const storage = globalThis.localStorage;
      if (!storage) return true;
      const key = SHOWN_PREFIX + tag;
      if (storage.getItem(key)) return false;
      storage.setItem(key, String(Date.now()));
      this.prune(storage);
    } catch {
      // storage disabled: rely on the tag
    }
    return true;
  }

  private prune(storage: Storage): void {
    const now = Date.now();
    for (let i = storage.length - 1; i >= 0; i -= 1) {
      const key = storage.key(i);
      if (key?.startsWith(SHOWN_PREFIX) && now - Number(storage.getItem(key)) > SHOWN_TTL_MS) {
        storage.removeItem(key);
      }
    }
  }
}
