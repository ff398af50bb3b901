/**
 * The seed's NotificationCenter: a bell with the unread badge and connection dot, a status
 * label, and a dropdown with tabs (all, e-mails, dossiers, deadlines, system).
 *
 * Accessible: the panel is a dialog that keeps focus inside while open (Tab cycles, Escape
 * closes and gives focus back to the bell), tabs follow the ARIA tabs pattern (arrow keys,
 * Home, End), and new notifications are announced through a polite live region. Each
 * item is named by its title and, when unread, « non lue » once (visually hidden).
 *
 * The panel fits the viewport down to 320 px: placed by `usePanelPlacement`, its header and
 * toolbar wrap, its tabs condense (and scroll if they must), its list scrolls inside.
 */
import { useCallback, useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactElement } from "react";

import { messages, type Locale, type Messages } from "../core/i18n.js";
import type { AnyNotification } from "../core/types.js";
import { describeItem } from "./describe.js";
import { BellIcon, BellOffIcon, CheckAllIcon, CheckIcon, CloseIcon, TrashIcon } from "./icons.js";
import { usePanelPlacement } from "./placement.js";
import { injectStyles } from "./styles.js";
import { formatAbsolute, formatRelative, useNow } from "./time.js";
import { useTocsin, type UseTocsinResult, type UseWebSocketOptions } from "./useWebSocket.js";

export type TabKey = "all" | "emails" | "dossiers" | "deadlines" | "system";
const TABS: TabKey[] = ["all", "emails", "dossiers", "deadlines", "system"];

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
  className?: string;
}

type Status = "connected" | "connecting" | "disconnected";

function statusOf(state: { connected: boolean; connecting: boolean }): Status {
  return state.connected ? "connected" : state.connecting ? "connecting" : "disconnected";
}

function statusLabel(status: Status, t: Messages): string {
  return status === "connected" ? t.live : status === "connecting" ? t.connecting : t.disconnected;
}

function itemsOf(tab: TabKey, state: UseTocsinResult): readonly AnyNotification[] {
  if (tab === "all") return state.items;
  // The grouped lists hold the same objects as `items`, which carry their `event`.
  return state.notifications[tab] as unknown as readonly AnyNotification[];
}

const FOCUSABLE = 'button:not([disabled]),[href],[tabindex]:not([tabindex="-1"])';

/** The bell, its badge and status, and the notifications panel. */
export function NotificationCenter(props: NotificationCenterProps): ReactElement {
  const { locale = "fr", options, defaultOpen = false, onSelect, hideLabel = false, className } = props;
  const t = messages(locale);
  const state = useTocsin({ locale, ...options });
  const [open, setOpen] = useState(defaultOpen);
  const [tab, setTab] = useState<TabKey>("all");
  const [announcement, setAnnouncement] = useState("");
  const now = useNow();
  const id = useId();
  const bellRef = useRef<HTMLButtonElement>(null);
  const panelRef = useRef<HTMLDivElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const status = statusOf(state);
  const label = statusLabel(status, t);

  useLayoutEffect(() => injectStyles(), []);
  usePanelPlacement(open, rootRef, panelRef);

  // New notifications are read out by screen readers (polite: after what they are saying).
  useEffect(
    () => state.client.onNotification((item) => setAnnouncement(describeItem(item, t).announce)),
    [state.client, t],
  );

  const close = useCallback((restoreFocus: boolean) => {
    setOpen(false);
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

  const onTabKey = (event: KeyboardEvent<HTMLButtonElement>) => {
    const index = TABS.indexOf(tab);
    const moves: Record<string, number> = {
      ArrowRight: (index + 1) % TABS.length,
      ArrowLeft: (index - 1 + TABS.length) % TABS.length,
      Home: 0,
      End: TABS.length - 1,
    };
    const next = moves[event.key];
    if (next === undefined) return;
    event.preventDefault();
    setTab(TABS[next]!);
    panelRef.current?.querySelector<HTMLElement>(`#${CSS.escape(`${id}-tab-${TABS[next]}`)}`)?.focus();
  };

  const unreadIn = useMemo(() => {
    const counts = {} as Record<TabKey, number>;
    for (const key of TABS) counts[key] = itemsOf(key, state).filter((n) => !n.read).length;
    return counts;
  }, [state]);

  const items = itemsOf(tab, state);
  const activate = (item: AnyNotification) => {
    if (!item.read) state.markAsRead(item.id);
    onSelect?.(item);
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
          <div className="tocsin-head">
            <h2 id={`${id}-title`}>{t.notifications}</h2>
            <span className="tocsin-pill" data-status={status}>
              <span className="tocsin-pill-dot" aria-hidden="true" />
              {label}
            </span>
            <button type="button" className="tocsin-iconbtn" onClick={() => close(true)} aria-label={t.close} title={t.close}>
              <CloseIcon width={16} height={16} />
            </button>
          </div>
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
              onClick={state.clearNotifications}
              disabled={state.items.length === 0}
              data-testid="tocsin-clear"
            >
              <TrashIcon width={16} height={16} />
              <span>{t.clear}</span>
            </button>
          </div>
          <div className="tocsin-tabs" role="tablist" aria-label={t.notifications}>
            {TABS.map((key) => (
              <button
                key={key}
                id={`${id}-tab-${key}`}
                type="button"
                role="tab"
                className="tocsin-tab"
                aria-selected={tab === key}
                aria-controls={`${id}-tabpanel`}
                tabIndex={tab === key ? 0 : -1}
                // The count is read with its words (« E-mails (2 non lues) »), not as a bare number.
                aria-label={unreadIn[key] > 0 ? `${t.tabs[key]} (${t.unread(unreadIn[key])})` : undefined}
                data-testid={`tocsin-tab-${key}`}
                onClick={() => setTab(key)}
                onKeyDown={onTabKey}
              >
                {t.tabs[key]}
                {unreadIn[key] > 0 && (
                  <span className="tocsin-count" aria-hidden="true">
                    {unreadIn[key]}
                  </span>
                )}
              </button>
            ))}
          </div>
          <div id={`${id}-tabpanel`} className="tocsin-tabpanel" role="tabpanel" aria-labelledby={`${id}-tab-${tab}`}>
            {items.length === 0 ? (
              <div className="tocsin-empty" data-testid="tocsin-empty">
                <BellOffIcon />
                <strong>{t.empty}</strong>
                {tab !== "all" && <span>{t.emptyTab}</span>}
              </div>
            ) : (
              <ul className="tocsin-list" data-testid="tocsin-list">
                {items.map((item) => (
                  <Item key={item.id} item={item} t={t} locale={locale} now={now} onActivate={activate} onMarkRead={state.markAsRead} />
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
          </div>
        </div>
      )}
    </div>
  );
}

interface ItemProps {
  item: AnyNotification;
  t: Messages;
  locale: Locale;
  now: number;
  onActivate: (item: AnyNotification) => void;
  onMarkRead: (id: string) => void;
}

function Item({ item, t, locale, now, onActivate, onMarkRead }: ItemProps): ReactElement {
  const view = describeItem(item, t);
  const id = useId();
  const onKey = (event: KeyboardEvent<HTMLLIElement>) => {
    if ((event.key === "Enter" || event.key === " ") && event.target === event.currentTarget) {
      event.preventDefault();
      onActivate(item);
    }
  };
  return (
    <li
      className={`tocsin-item${item.read ? "" : " is-unread"}`}
      data-id={item.id}
      data-event={item.event}
      data-read={item.read ? "true" : "false"}
      data-testid="tocsin-item"
      aria-labelledby={item.read ? `${id}-title` : `${id}-title ${id}-state`}
      aria-describedby={`${id}-meta`}
      tabIndex={0}
      onClick={() => onActivate(item)}
      onKeyDown={onKey}
    >
      <span className={`tocsin-icon tocsin-icon--${view.tone}`} aria-hidden="true">
        {view.icon}
      </span>
      <div className="tocsin-body">
        <p className="tocsin-title" id={`${id}-title`}>
          {view.title}
        </p>
        {!item.read && (
          <span className="tocsin-sr-only" id={`${id}-state`}>
            {t.unreadItem}
          </span>
        )}
        <p className="tocsin-meta" id={`${id}-meta`}>
          {view.meta}
        </p>
        <div className="tocsin-tags">
          {view.tags.map((tag) => (
            <span key={tag.text} className={`tocsin-tag${tag.tone ? ` tocsin-tag--${tag.tone}` : ""}`}>
              {tag.text}
            </span>
          ))}
          <time className="tocsin-time" dateTime={item.timestamp} title={formatAbsolute(item.timestamp, locale)}>
            {formatRelative(item.timestamp, now, locale)}
          </time>
        </div>
      </div>
      {!item.read && (
        <button
          type="button"
          className="tocsin-iconbtn tocsin-mark"
          aria-label={`${t.markRead} : ${view.title}`}
          title={t.markRead}
          data-testid="tocsin-mark-read"
          onClick={(event) => {
            event.stopPropagation();
            onMarkRead(item.id);
          }}
        >
          <CheckIcon width={16} height={16} />
        </button>
      )}
    </li>
  );
}
