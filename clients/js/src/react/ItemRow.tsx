/**
 * One notification in the panel's list: its icon, title, details and time; its action
 * buttons (or the action taken); and its controls: mark read, snooze, archive. In the
 * Archive tab, below its details instead (the title keeps the width on a phone): until when
 * (« jusqu'à lun. 9:00 ») and « Réveiller maintenant » for a snoozed item, « Désarchiver »
 * for an archived one.
 *
 * The item is named by its title and, when unread, « non lue » once (visually hidden), and
 * described by its details (and until when it is snoozed); each control's name says what it
 * does to which item (« Archiver : <title> »).
 */
import { useId, type KeyboardEvent, type ReactElement } from "react";

import type { Locale, Messages } from "../core/i18n.js";
import { takenAction } from "../core/item.js";
import type { AnyNotification, NotificationAction } from "../core/types.js";
import { describeItem } from "./describe.js";
import { AlarmClockIcon, ArchiveIcon, CheckIcon, ClockIcon, UnarchiveIcon } from "./icons.js";
import { formatWake } from "./snooze.js";
import { SnoozeMenu } from "./SnoozeMenu.js";
import { formatAbsolute, formatRelative } from "./time.js";

export interface ItemHandlers {
  onActivate: (item: AnyNotification) => void;
  onMarkRead: (id: string) => void;
  onArchive: (item: AnyNotification) => void;
  onUnarchive: (item: AnyNotification) => void;
  onUnsnooze: (item: AnyNotification) => void;
  onSnooze: (item: AnyNotification, until: Date) => void;
  onAct: (item: AnyNotification, action: NotificationAction) => void;
}

export interface ItemRowProps extends ItemHandlers {
  item: AnyNotification;
  t: Messages;
  locale: Locale;
  now: number;
  /**
   * Which list it is in: the inbox (snooze, archive), the Archive tab's archived items
   * (« Désarchiver ») or its snoozed ones (until when, « Réveiller maintenant »).
   */
  kind: RowKind;
}

export type RowKind = "inbox" | "archived" | "snoozed";

export function ItemRow(props: ItemRowProps): ReactElement {
  const { item, t, locale, now, kind, onActivate, onMarkRead, onArchive, onUnarchive, onUnsnooze, onSnooze, onAct } = props;
  const view = describeItem(item, t);
  const id = useId();
  const taken = takenAction(item);
  const onKey = (event: KeyboardEvent<HTMLLIElement>) => {
    if ((event.key === "Enter" || event.key === " ") && event.target === event.currentTarget) {
      event.preventDefault();
      onActivate(item);
    }
  };
  const actions = item.actions ?? [];
  const until = kind === "snoozed" ? item.snoozedUntil : null;
  return (
    <li
      className={`tocsin-item${item.read ? "" : " is-unread"}`}
      data-id={item.id}
      data-event={item.event}
      data-read={item.read ? "true" : "false"}
      data-seen={item.seen ? "true" : "false"}
      data-archived={item.archived ? "true" : "false"}
      data-snoozed-until={item.snoozedUntil ?? undefined}
      data-critical={item.critical ? "true" : "false"}
      data-acted={taken ?? undefined}
      data-testid="tocsin-item"
      aria-labelledby={item.read ? `${id}-title` : `${id}-title ${id}-state`}
      aria-describedby={until ? `${id}-meta ${id}-until` : `${id}-meta`}
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
          {until && (
            <span className="tocsin-until" data-testid="tocsin-snoozed-until">
              <ClockIcon width={12} height={12} />
              <time id={`${id}-until`} dateTime={until} title={formatAbsolute(until, locale)}>
                {t.snooze.untilShort(formatWake(until, new Date(now), locale))}
              </time>
            </span>
          )}
        </div>
        {taken !== null ? (
          <p className="tocsin-acted" data-testid="tocsin-acted" data-action={taken}>
            <CheckIcon width={14} height={14} />
            {t.acted(actions.find((action) => action.id === taken)?.label ?? taken, taken)}
          </p>
        ) : (
          actions.length > 0 && (
            <div className="tocsin-actions" role="group" aria-label={t.actionsGroup}>
              {actions.map((action) => (
                <button
                  key={action.id}
                  type="button"
                  className={`tocsin-btn${action.primary ? " is-primary" : ""}`}
                  aria-describedby={`${id}-title`}
                  data-testid="tocsin-action"
                  data-action={action.id}
                  onClick={(event) => {
                    event.stopPropagation();
                    onAct(item, action);
                  }}
                >
                  {action.label}
                </button>
              ))}
            </div>
          )
        )}
        {kind === "snoozed" && (
          <div className="tocsin-actions">
            <button
              type="button"
              className="tocsin-btn tocsin-wake"
              aria-label={`${t.snooze.wake} : ${view.title}`}
              data-testid="tocsin-unsnooze"
              onClick={(event) => {
                event.stopPropagation();
                onUnsnooze(item);
              }}
            >
              <AlarmClockIcon width={14} height={14} />
              <span>{t.snooze.wake}</span>
            </button>
          </div>
        )}
        {kind === "archived" && (
          <div className="tocsin-actions">
            <button
              type="button"
              className="tocsin-btn tocsin-unarchive"
              aria-label={`${t.unarchive} : ${view.title}`}
              data-testid="tocsin-unarchive"
              onClick={(event) => {
                event.stopPropagation();
                onUnarchive(item);
              }}
            >
              <UnarchiveIcon width={14} height={14} />
              <span>{t.unarchive}</span>
            </button>
          </div>
        )}
      </div>
      <div className="tocsin-controls">
        {!item.read && (
          <button
            type="button"
            className="tocsin-iconbtn tocsin-ctl tocsin-mark"
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
        {kind === "inbox" && (
          <>
            <SnoozeMenu t={t} title={view.title} onSnooze={(until) => onSnooze(item, until)} />
            <button
              type="button"
              className="tocsin-iconbtn tocsin-ctl"
              aria-label={`${t.archive} : ${view.title}`}
              title={t.archive}
              data-testid="tocsin-archive"
              onClick={(event) => {
                event.stopPropagation();
                onArchive(item);
              }}
            >
              <ArchiveIcon width={16} height={16} />
            </button>
          </>
        )}
      </div>
    </li>
  );
}
