/**
 * The panel's tabs (all, e-mails, dossiers, deadlines, system, archive) after the ARIA tabs
 * pattern: one tab in the Tab order (roving tabindex), arrow keys, Home and End move and
 * select. Each tab's unread count is read with its words (« E-mails (2 non lues) »), not as
 * a bare number; the Archive tab is an icon named « Archives ».
 */
import { useRef, type KeyboardEvent, type ReactElement } from "react";

import type { Messages } from "../core/i18n.js";
import { ArchiveIcon } from "./icons.js";

export type TabKey = "all" | "emails" | "dossiers" | "deadlines" | "system" | "archive";
export const TABS: readonly TabKey[] = ["all", "emails", "dossiers", "deadlines", "system", "archive"];

export interface TabBarProps {
  tab: TabKey;
  onSelect: (tab: TabKey) => void;
  /** Unread items per tab (0: no count shown). */
  unread: Record<TabKey, number>;
  t: Messages;
  /** Prefix of the tabs' ids (`<prefix>-tab-<key>`); the tab panel is `<prefix>-tabpanel`. */
  idPrefix: string;
}

export function TabBar({ tab, onSelect, unread, t, idPrefix }: TabBarProps): ReactElement {
  const listRef = useRef<HTMLDivElement>(null);
  const onKey = (event: KeyboardEvent<HTMLButtonElement>) => {
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
    onSelect(TABS[next]!);
    listRef.current?.querySelector<HTMLElement>(`#${CSS.escape(`${idPrefix}-tab-${TABS[next]}`)}`)?.focus();
  };
  return (
    <div ref={listRef} className="tocsin-tabs" role="tablist" aria-label={t.notifications}>
      {TABS.map((key) => (
        <button
          key={key}
          id={`${idPrefix}-tab-${key}`}
          type="button"
          role="tab"
          className="tocsin-tab"
          aria-selected={tab === key}
          aria-controls={`${idPrefix}-tabpanel`}
          tabIndex={tab === key ? 0 : -1}
          aria-label={
            key === "archive" ? t.archiveTab : unread[key] > 0 ? `${t.tabs[key]} (${t.unread(unread[key])})` : undefined
          }
          data-testid={`tocsin-tab-${key}`}
          data-tab={key}
          title={key === "archive" ? t.archiveTab : undefined}
          onClick={() => onSelect(key)}
          onKeyDown={onKey}
        >
          {key === "archive" ? (
            <>
              <ArchiveIcon width={15} height={15} className="tocsin-tab-icon" />
              <span className="tocsin-tab-text">{t.archiveTab}</span>
            </>
          ) : (
            t.tabs[key]
          )}
          {unread[key] > 0 && (
            <span className="tocsin-count" aria-hidden="true">
              {unread[key]}
            </span>
          )}
        </button>
      ))}
    </div>
  );
}
