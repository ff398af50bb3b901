/**
 * The seed's NotificationCenter: a bell with the unread badge and connection dot, a status
 * label, and a dropdown with tabs (all, e-mails, dossiers, deadlines, system, archive).
 *
 * Each item can be marked read, snoozed (a menu: in an hour, tomorrow 9:00, Monday 9:00, a
 * date) or archived, and shows its action buttons (then the action taken); the Archive tab
 * lists the snoozed items (« Reportées », until when, « Réveiller maintenant ») above the
 * archived ones (« Archivées », « Désarchiver »); « Tout archiver » empties the inbox; the
 * gear opens the preferences inside the panel. Items shown in the open panel are marked seen.
 * « Activer les notifications » (above the tabs until done, and in the preferences) asks the
 * browser's permission and subscribes to Web Push from the same click.
 *
 * Accessible: the panel is a dialog that keeps focus inside while open (Tab cycles, Escape
 * closes and gives focus back to the bell), tabs follow the ARIA tabs pattern (arrow keys,
 * Home, End), the snooze menu the menu button pattern, and new notifications are announced
 * through a polite live region. Each item is named by its title and, when unread, « non
 * lue » once (visually hidden). An item that leaves the list hands focus to its neighbour.
 *
 * The panel fits the viewport down to 320 px: placed by `usePanelPlacement`, its header and
 * toolbar wrap, its tabs condense (and scroll if they must), its list scrolls inside.
 */
import { useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactElement } from "react";

import { messages, type Locale, type Messages } from "../core/i18n.js";
import { safeActionUrl } from "../core/item.js";
import type { AnyNotification, NotificationAction } from "../core/types.js";
import { ArchiveTab } from "./ArchiveTab.js";
import { describeItem } from "./describe.js";
import { ArchiveIcon, BellIcon, BellOffIcon, CheckAllIcon, CloseIcon, SettingsIcon, TrashIcon } from "./icons.js";
import { ItemRow } from "./ItemRow.js";
import { usePanelPlacement } from "./placement.js";
import { PreferencesView } from "./PreferencesView.js";
import { PushSettings } from "./PushControl.js";
import { formatUntil } from "./snooze.js";
import { injectStyles } from "./styles.js";
import { useNow } from "./time.js";
import { TabBar, TABS, type TabKey } from "./TabBar.js";
import { useTocsin, type UseTocsinResult, type UseWebSocketOptions } from "./useWebSocket.js";

export type { TabKey } from "./TabBar.js";

export interface NotificationCenterProps {
  /** `fr` (default, the seed's labels) or `en`. */
  locale?: Locale;
  /** Options of the shared client (used when it is first created). */
  options?: UseWebSocketOptions;
  /** Start with the panel open. */
  defaultOpen?: boolean;
  /** Called when a notification is activated (after it is marked read). */
  onSelect?: (item: AnyNotification) => void;
  /** Hide the text label next to the bell (the dot stays). */
  hideLabel?: boolean;
  /**
   * Offer « Activer les notifications » (browser permission and Web Push) in the panel and
   * the preferences (default true). Push needs the service worker served at the app's origin.
   */
  pushControl?: boolean;
  className?: string;
}

type Status = "connected" | "connecting" | "disconnected";

function statusOf(state: { connected: boolean; connecting: boolean }): Status {
  return state.connected ? "connected" : state.connecting ? "connecting" : "disconnected";
}

function statusLabel(status: Status, t: Messages): string {
  return status === "connected" ? t.live : status === "connecting" ? t.connecting : t.disconnected;
}

type Lists = Pick<UseTocsinResult, "items" | "notifications" | "snoozedItems" | "archivedItems">;

/** The items a tab lists, in order (the Archive tab: the snoozed ones, then the archived). */
function itemsOf(tab: TabKey, state: Lists): readonly AnyNotification[] {
  if (tab === "all") return state.items;
  if (tab === "archive") return [...state.snoozedItems, ...state.archivedItems];
  // The grouped lists hold the same objects as `items`, which carry their `event`.
  return state.notifications[tab] as unknown as readonly AnyNotification[];
}

const SEEN_EVERY_MS = 250;

const FOCUSABLE =
  'button:not([disabled]),[href],input:not([disabled]),select:not([disabled]),textarea:not([disabled]),[tabindex]:not([tabindex="-1"])';

/** Whether the page is in view (items in a hidden tab's open panel are not "seen"). */
function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => typeof document === "undefined" || document.visibilityState !== "hidden");
  useEffect(() => {
    const update = () => setVisible(document.visibilityState !== "hidden");
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  return visible;
}

/** The bell, its badge and status, and the notifications panel. */
export function NotificationCenter(props: NotificationCenterProps): ReactElement {
  const { locale = "fr", options, defaultOpen = false, onSelect, hideLabel = false, pushControl = true, className } = props;
  const t = messages(locale);
  const state = useTocsin({ locale, ...options });
  const [open, setOpen] = useState(defaultOpen);
  const [tab, setTab] = useState<TabKey>("all");
  const [prefsOpen, setPrefsOpen] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const now = useNow();
  const pageVisible = usePageVisible();
  const id = useId();
  const bellRef = useRef<HTMLButtonElement>(null);
  const gearRef = useRef<HTMLButtonElement>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  /** The list position whose item left (archived, snoozed…): its neighbour gets the focus. */
  const refocusAt = useRef<number | null>(null);
  const status = statusOf(state);
  const label = statusLabel(status, t);

  useLayoutEffect(() => injectStyles(), []);
  usePanelPlacement(open, rootRef, panelRef);

  // New notifications are read out by screen readers (polite: after what they are saying).
  useEffect(
    () => state.client.onNotification((item) => setAnnouncement(describeItem(item, t).announce)),
    [state.client, t],
  );
  useEffect(
    () => state.client.onDue((item) => setAnnouncement(`${t.announceDue} : ${describeItem(item, t).title}`)),
    [state.client, t],
  );

  const close = useCallback((restoreFocus: boolean) => {
    setOpen(false);
    setPrefsOpen(false);
    if (restoreFocus) bellRef.current?.focus();
  }, []);

  // Focus goes into the panel when it opens; a click outside closes it.
  useEffect(() => {
    if (!open) return;
    panelRef.current?.querySelector<HTMLElement>('[role=tab][aria-selected="true"]')?.focus();
    const onPointer = (event: PointerEvent) => {
      if (rootRef.current && !rootRef.current.contains(event.target as Node)) close(false);
    };
    document.addEventListener("pointerdown", onPointer);
    return () => document.removeEventListener("pointerdown", onPointer);
  }, [open, close]);

  const onPanelKey = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      close(true);
      return;
    }
    if (event.key !== "Tab" || !panelRef.current) return;
    // What Tab can reach: the selected tab only (roving tabindex), enabled buttons, items.
    const focusable = [...panelRef.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (element) => element.tabIndex >= 0,
    );
    if (focusable.length === 0) return;
    const first = focusable[0]!;
    const last = focusable[focusable.length - 1]!;
    const active = document.activeElement as HTMLElement | null;
    if (!active || !focusable.includes(active)) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    } else if (event.shiftKey && active === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  };

  const unreadIn = useMemo(() => {
    const counts = {} as Record<TabKey, number>;
    for (const key of TABS) counts[key] = key === "archive" ? 0 : itemsOf(key, state).filter((n) => !n.read).length;
    return counts;
  }, [state]);

  const { markSeen, loadArchived, archivedLoaded, loadSnoozed, snoozedLoaded } = state;
  const { items: inbox, notifications, snoozedItems, archivedItems } = state;
  const items = useMemo(
    () => itemsOf(tab, { items: inbox, notifications, snoozedItems, archivedItems }),
    [tab, inbox, notifications, snoozedItems, archivedItems],
  );
  const showingList = open && !prefsOpen;

  // What the open list shows is seen. Sent at most every SEEN_EVERY_MS (a burst of arrivals
  // is one event, within the server's per-socket rate) and only for ids not yet seen.
  const shown = useRef<readonly AnyNotification[]>([]);
  const seenTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const watching = showingList && pageVisible && tab !== "archive";
  shown.current = watching ? items : [];
  useEffect(() => {
    if (!watching || seenTimer.current !== null || !items.some((item) => !item.seen)) return;
    seenTimer.current = setTimeout(() => {
      seenTimer.current = null;
      const unseen = shown.current.filter((item) => !item.seen).map((item) => item.id);
      if (unseen.length > 0) void markSeen(unseen);
    }, SEEN_EVERY_MS);
  }, [watching, items, markSeen]);
  useEffect(
    () => () => {
      if (seenTimer.current !== null) clearTimeout(seenTimer.current);
      seenTimer.current = null;
    },
    [],
  );

  // The archive and the snoozed items are loaded when their tab is first shown.
  useEffect(() => {
    if (showingList && tab === "archive" && !archivedLoaded) void loadArchived();
  }, [showingList, tab, archivedLoaded, loadArchived]);
  useEffect(() => {
    if (showingList && tab === "archive" && !snoozedLoaded) void loadSnoozed();
  }, [showingList, tab, snoozedLoaded, loadSnoozed]);

  // An item left the list under the focus: its neighbour (or the tab) takes it.
  useLayoutEffect(() => {
    const at = refocusAt.current;
    if (at === null || !panelRef.current) return;
    refocusAt.current = null;
    const rows = panelRef.current.querySelectorAll<HTMLElement>('[data-testid="tocsin-item"]');
    const target = rows[Math.min(at, rows.length - 1)] ?? panelRef.current.querySelector<HTMLElement>('[role=tab][aria-selected="true"]');
    target?.focus();
  }, [items]);

  const activate = (item: AnyNotification) => {
    if (!item.read) state.markAsRead(item.id);
    onSelect?.(item);
  };
  const leaving = (item: AnyNotification) => {
    const focused = document.activeElement;
    if (panelRef.current?.contains(focused) || focused === document.body) refocusAt.current = items.indexOf(item);
  };
  const handlers = {
    onActivate: activate,
    onMarkRead: state.markAsRead,
    onArchive: (item: AnyNotification) => {
      leaving(item);
      setAnnouncement(`${describeItem(item, t).title} : ${t.announceArchived}`);
      void state.archive(item.id);
    },
    onUnarchive: (item: AnyNotification) => {
      leaving(item);
      setAnnouncement(`${describeItem(item, t).title} : ${t.announceUnarchived}`);
      void state.unarchive(item.id);
    },
    onUnsnooze: (item: AnyNotification) => {
      leaving(item);
      setAnnouncement(`${describeItem(item, t).title} : ${t.announceUnsnoozed}`);
      void state.unsnooze(item.id);
    },
    onSnooze: (item: AnyNotification, until: Date) => {
      leaving(item);
      const when = formatUntil(until.toISOString(), new Date(), locale);
      setAnnouncement(`${describeItem(item, t).title} : ${t.snooze.until(when)}`);
      void state.snooze(item.id, until);
    },
    onAct: (item: AnyNotification, action: NotificationAction) => {
      void state.act(item.id, action.id).then((ack) => {
        const url = safeActionUrl(action.url);
        if (ack && url) window.location.assign(url);
      });
    },
  };
  const pushProps = {
    t,
    client: state.client,
    push: state.push,
    pushReason: state.pushReason,
    pushChecked: state.pushChecked,
  };
  const openPrefs = () => setPrefsOpen(true);
  const closePrefs = () => {
    setPrefsOpen(false);
    gearRef.current?.focus(); // back to what opened the view
  };

  return (
    <div ref={rootRef} className={`tocsin-nc${className ? ` ${className}` : ""}`} data-status={status} lang={locale}>
      <button
        ref={bellRef}
        type="button"
        className="tocsin-bell"
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={open ? `${id}-panel` : undefined}
        aria-label={`${t.notifications} (${t.unread(state.unreadCount)}) — ${label}`}
        data-testid="tocsin-bell"
        data-unread={state.unreadCount}
        data-unseen={state.unseenCount}
        onClick={() => (open ? close(false) : setOpen(true))}
      >
        <BellIcon />
        {state.unreadCount > 0 && (
          <span className="tocsin-badge" data-testid="tocsin-badge" aria-hidden="true">
            {state.unreadCount > 99 ? "99+" : state.unreadCount}
          </span>
        )}
        <span className="tocsin-dot" data-status={status} aria-hidden="true" />
      </button>
      {!hideLabel && (
        <span className="tocsin-pill" data-status={status} data-testid="tocsin-status">
          <span className="tocsin-pill-dot" aria-hidden="true" />
          {/* On a phone only the dot shows here: the panel's header spells it out. */}
          <span className="tocsin-pill-text">{label}</span>
        </span>
      )}
      <div className="tocsin-sr-only" aria-live="polite" aria-atomic="true" data-testid="tocsin-live">
        {announcement}
      </div>
      {open && (
        <div
          ref={panelRef}
          id={`${id}-panel`}
          className="tocsin-panel"
          role="dialog"
          aria-modal="true"
          aria-labelledby={`${id}-title`}
          data-testid="tocsin-panel"
          onKeyDown={onPanelKey}
        >
          {/* .tocsin-head is laid out as part of .tocsin-top: title, status, gear, then close. */}
          <div className="tocsin-top">
            <div className="tocsin-head">
              <h2 id={`${id}-title`}>{t.notifications}</h2>
              <span className="tocsin-pill" data-status={status}>
                <span className="tocsin-pill-dot" aria-hidden="true" />
                {label}
              </span>
              <button
                ref={gearRef}
                type="button"
                className={`tocsin-iconbtn${prefsOpen ? " is-active" : ""}`}
                onClick={() => (prefsOpen ? closePrefs() : openPrefs())}
                aria-label={t.prefs.open}
                aria-expanded={prefsOpen}
                aria-controls={prefsOpen ? `${id}-prefs` : undefined}
                title={t.prefs.open}
                data-testid="tocsin-prefs"
              >
                <SettingsIcon width={16} height={16} />
              </button>
            </div>
            <button type="button" className="tocsin-iconbtn" onClick={() => close(true)} aria-label={t.close} title={t.close}>
              <CloseIcon width={16} height={16} />
            </button>
          </div>
          {prefsOpen ? (
            <div id={`${id}-prefs`} className="tocsin-prefs-wrap">
              <PreferencesView
                t={t}
                preferences={state.preferences}
                loaded={state.preferencesLoaded}
                onChange={state.setPreferences}
                onClose={closePrefs}
                push={pushControl ? <PushSettings {...pushProps} /> : undefined}
              />
            </div>
          ) : (
            <>
              {state.actionError && (
                <p className="tocsin-error" role="alert" data-testid="tocsin-error">
                  {t.actionFailed}
                </p>
              )}
              <div className="tocsin-toolbar">
                <span className="tocsin-sub" data-testid="tocsin-clients">
                  {state.connected ? t.connectedClients(state.clientsCount) : ""}
                </span>
                <button
                  type="button"
                  className="tocsin-iconbtn"
                  onClick={state.markAllAsRead}
                  disabled={state.unreadCount === 0}
                  data-testid="tocsin-mark-all"
                >
                  <CheckAllIcon width={16} height={16} />
                  <span>{t.markAllRead}</span>
                </button>
                <button
                  type="button"
                  className="tocsin-iconbtn"
                  onClick={() => void state.archiveAll()}
                  disabled={state.items.length === 0}
                  data-testid="tocsin-archive-all"
                >
                  <ArchiveIcon width={16} height={16} />
                  <span>{t.archiveAll}</span>
                </button>
                <button
                  type="button"
                  className="tocsin-iconbtn"
                  onClick={state.clearNotifications}
                  disabled={state.items.length === 0}
                  data-testid="tocsin-clear"
                >
                  <TrashIcon width={16} height={16} />
                  <span>{t.clear}</span>
                </button>
              </div>
              {pushControl && <PushSettings {...pushProps} compact />}
              <TabBar tab={tab} onSelect={setTab} unread={unreadIn} t={t} idPrefix={id} />
              <div
                id={`${id}-tabpanel`}
                className="tocsin-tabpanel"
                role="tabpanel"
                aria-labelledby={`${id}-tab-${tab}`}
                data-tab={tab}
              >
                {tab === "archive" ? (
                  <ArchiveTab state={state} t={t} locale={locale} now={now} handlers={handlers} idPrefix={`${id}-archive`} />
                ) : (
                  <>
                    {items.length === 0 ? (
                      <div className="tocsin-empty" data-testid="tocsin-empty">
                        <BellOffIcon />
                        <strong>{t.empty}</strong>
                        {tab !== "all" && <span>{t.emptyTab}</span>}
                      </div>
                    ) : (
                      <ul className="tocsin-list" data-testid="tocsin-list">
                        {items.map((item) => (
                          <ItemRow key={item.id} item={item} t={t} locale={locale} now={now} kind="inbox" {...handlers} />
                        ))}
                      </ul>
                    )}
                    {state.hasOlder && (
                      <div className="tocsin-foot">
                        <button type="button" className="tocsin-iconbtn" onClick={state.loadOlder} disabled={state.loadingOlder}>
                          {state.loadingOlder ? t.loading : t.loadOlder}
                        </button>
                      </div>
                    )}
                  </>
                )}
              </div>
            </>
          )}
        </div>
      )}
    </div>
  );
}
