/**
 * An item's snooze menu, after the WAI-ARIA menu button pattern: the button opens a menu of
 * « Dans 1 heure », « Demain 9 h », « Lundi 9 h » and « Choisir une date… » (a date and time
 * field). Enter, Space or ↓ opens it on the first choice, ↑ on the last; ↑ ↓ Home End move,
 * Escape closes it and gives focus back to the button, Tab closes it and moves on.
 *
 * It opens inside the item, below its button, or above when the list has no room below.
 */
import { useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactElement } from "react";

import type { Messages } from "../core/i18n.js";
import { ClockIcon } from "./icons.js";
import { fromLocalInput, snoozeTimes, toLocalInput } from "./snooze.js";

export interface SnoozeMenuProps {
  t: Messages;
  /** The item's title, for the button's name (« Mettre en attente : … »). */
  title: string;
  onSnooze: (until: Date) => void;
}

type Mode = "closed" | "menu" | "pick";

export function SnoozeMenu({ t, title, onSnooze }: SnoozeMenuProps): ReactElement {
  const [mode, setMode] = useState<Mode>("closed");
  const [focusLast, setFocusLast] = useState(false);
  const [picked, setPicked] = useState("");
  const [invalid, setInvalid] = useState(false);
  const id = useId();
  const wrapRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const popupRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  const close = (restoreFocus: boolean) => {
    setMode("closed");
    setInvalid(false);
    if (restoreFocus) buttonRef.current?.focus();
  };

  const open = (last = false) => {
    setFocusLast(last);
    setMode("menu");
  };

  // Placed, then focused: the first (or last) choice, or the date field.
  useLayoutEffect(() => {
    const popup = popupRef.current;
    if (mode === "closed" || !popup) return;
    popup.dataset.placement = "down";
    const list = popup.closest(".tocsin-tabpanel");
    const button = buttonRef.current;
    if (list && button) {
      const room = list.getBoundingClientRect();
      const below = room.bottom - button.getBoundingClientRect().bottom;
      const above = button.getBoundingClientRect().top - room.top;
      if (popup.getBoundingClientRect().bottom > room.bottom && above > below) popup.dataset.placement = "up";
    }
    popup.scrollIntoView?.({ block: "nearest" });
    if (mode === "pick") inputRef.current?.focus();
    else {
      const items = menuItems(popup);
      (focusLast ? items[items.length - 1] : items[0])?.focus();
    }
  }, [mode, focusLast]);

  // A press anywhere else closes it.
  useEffect(() => {
    if (mode === "closed") return;
    const onPointer = (event: PointerEvent) => {
      if (wrapRef.current && !wrapRef.current.contains(event.target as Node)) close(false);
    };
    document.addEventListener("pointerdown", onPointer);
    return () => document.removeEventListener("pointerdown", onPointer);
  }, [mode]);

  const choose = (until: Date) => {
    close(false);
    onSnooze(until);
  };

  const onButtonKey = (event: KeyboardEvent<HTMLButtonElement>) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      event.stopPropagation();
      open(event.key === "ArrowUp");
    }
  };

  const onMenuKey = (event: KeyboardEvent<HTMLUListElement>) => {
    const items = menuItems(popupRef.current);
    const index = items.indexOf(document.activeElement as HTMLElement);
    const moves: Record<string, number> = {
      ArrowDown: (index + 1) % items.length,
      ArrowUp: (index - 1 + items.length) % items.length,
      Home: 0,
      End: items.length - 1,
    };
    const next = moves[event.key];
    if (next !== undefined) {
      event.preventDefault();
      event.stopPropagation();
      items[next]?.focus();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key === "Tab") {
      // Focus goes back to the button first, so Tab moves on from there.
      close(true);
    }
  };

  const onPickKey = (event: KeyboardEvent<HTMLFormElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    }
  };

  const times = snoozeTimes(new Date());
  const choices: { key: string; label: string; when?: Date }[] = [
    { key: "hour", label: t.snooze.inOneHour, when: times.inOneHour },
    { key: "tomorrow", label: t.snooze.tomorrow, when: times.tomorrow },
    { key: "monday", label: t.snooze.monday, when: times.monday },
    { key: "pick", label: t.snooze.pick },
  ];
  const minimum = toLocalInput(new Date(Date.now() + 60_000));

  return (
    <div
      ref={wrapRef}
      className="tocsin-snooze"
      onClick={(event) => event.stopPropagation()}
      onBlur={() => {
        // Checked once focus has settled: switching to the date field removes the focused choice.
        setTimeout(() => {
          const wrap = wrapRef.current;
          if (wrap && !wrap.contains(document.activeElement)) setMode((m) => (m === "closed" ? m : "closed"));
        }, 0);
      }}
    >
      <button
        ref={buttonRef}
        id={`${id}-button`}
        type="button"
        className="tocsin-iconbtn tocsin-ctl"
        aria-haspopup="menu"
        aria-expanded={mode !== "closed"}
        aria-controls={mode === "closed" ? undefined : `${id}-popup`}
        aria-label={`${t.snooze.button} : ${title}`}
        title={t.snooze.button}
        data-testid="tocsin-snooze"
        onClick={() => (mode === "closed" ? open() : close(true))}
        onKeyDown={onButtonKey}
      >
        <ClockIcon width={16} height={16} />
      </button>
      {mode !== "closed" && (
        <div ref={popupRef} id={`${id}-popup`} className="tocsin-popup" data-testid="tocsin-snooze-menu">
          {mode === "menu" ? (
            <ul role="menu" aria-labelledby={`${id}-button`} className="tocsin-menu" onKeyDown={onMenuKey}>
              {choices.map((choice) => (
                <li key={choice.key} role="none">
                  <button
                    type="button"
                    role="menuitem"
                    tabIndex={-1}
                    className="tocsin-menuitem"
                    data-testid="tocsin-snooze-option"
                    data-choice={choice.key}
                    onClick={() => {
                      if (choice.when) choose(choice.when);
                      else {
                        setPicked(toLocalInput(times.tomorrow));
                        setMode("pick");
                      }
                    }}
                  >
                    {choice.label}
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            <form
              className="tocsin-pick"
              aria-label={`${t.snooze.button} : ${title}`}
              onKeyDown={onPickKey}
              onSubmit={(event) => {
                event.preventDefault();
                const until = fromLocalInput(picked);
                if (!until || until.getTime() <= Date.now()) setInvalid(true);
                else choose(until);
              }}
            >
              <label id={`${id}-pick-label`} htmlFor={`${id}-date`}>
                {t.snooze.pickLabel}
              </label>
              <input
                ref={inputRef}
                id={`${id}-date`}
                type="datetime-local"
                value={picked}
                min={minimum}
                required
                aria-invalid={invalid || undefined}
                aria-describedby={invalid ? `${id}-invalid` : undefined}
                data-testid="tocsin-snooze-date"
                onChange={(event) => {
                  setPicked(event.target.value);
                  setInvalid(false);
                }}
              />
              {invalid && (
                <p id={`${id}-invalid`} className="tocsin-invalid" role="alert">
                  {t.snooze.invalid}
                </p>
              )}
              <div className="tocsin-pick-buttons">
                <button type="button" className="tocsin-btn" onClick={() => close(true)}>
                  {t.snooze.cancel}
                </button>
                <button type="submit" className="tocsin-btn is-primary" data-testid="tocsin-snooze-confirm">
                  {t.snooze.confirm}
                </button>
              </div>
            </form>
          )}
        </div>
      )}
    </div>
  );
}

function menuItems(popup: HTMLElement | null): HTMLElement[] {
  return popup ? [...popup.querySelectorAll<HTMLElement>("[role=menuitem]")] : [];
}
