/**
 * Browser notifications as in the seed: new e-mails, critical deadlines
 * (`requireInteraction: true`) and system errors — one per event however many tabs are open.
 *
 * One tab is elected to show them: it holds a Web Lock for as long as it lives, and the
 * others queue behind it (the next takes over when it closes). Every notification also
 * carries `tag: tocsin:<id>`, so a browser without Web Locks still shows one per event
 * (a second one with the same tag replaces the first), and a localStorage mark keeps a
 * tab without locks from showing what another already showed.
 */
import type { Messages } from "./i18n.js";
import type { Logger } from "./log.js";
import { DEADLINE_ALERT, EMAIL_RECEIVED, SYSTEM_NOTIFICATION, type AnyNotification } from "./types.js";

/** What to show for a notification, or null when the seed shows nothing for it. */
export interface BrowserNotificationSpec {
  title: string;
  body: string;
  tag: string;
  requireInteraction: boolean;
}

/** The seed's policy: e-mails, `critical` deadlines, `error` system notifications. */
export function describeForBrowser(item: AnyNotification, text: Messages): BrowserNotificationSpec | null {
  const tag = `tocsin:${item.id}`;
  switch (item.event) {
    case EMAIL_RECEIVED: {
      const dossier = item.dossierNumber ? ` · ${item.dossierNumber}` : "";
      return { title: text.newEmailTitle, body: `${item.subject}\n${item.from}${dossier}`, tag, requireInteraction: false };
    }
    case DEADLINE_ALERT:
      if (item.urgency !== "critical") return null;
      return {
        title: text.criticalDeadlineTitle,
        body: `${item.message}\n${item.dossierNumber} · ${item.deadlineType}`,
        tag,
        requireInteraction: true,
      };
    case SYSTEM_NOTIFICATION:
      if (item.type !== "error") return null;
      return { title: item.title, body: item.message, tag, requireInteraction: false };
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

  /** Show the browser notification for a new event, if the seed's policy wants one. */
  notify(item: AnyNotification): boolean {
    if (!this.leader || typeof Notification === "undefined") return false;
    if (Notification.permission !== "granted") return false;
    const spec = describeForBrowser(item, this.text);
    if (!spec || !this.claim(spec.tag)) return false;
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
