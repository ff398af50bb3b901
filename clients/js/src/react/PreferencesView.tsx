/**
 * The preferences view inside the panel: per kind, which channels reach the user (browser,
 * push, e-mail); quiet hours (on/off, from, to, days); the daily digest (off/daily, at); and
 * first, when given, the control that turns push on for this browser.
 * Each change is saved at once (`set-preferences`) and the outcome is read out politely.
 * Critical alerts always notify: the view says so above the table.
 */
import { useEffect, useId, useRef, useState, type ReactElement, type ReactNode } from "react";

import type { Messages } from "../core/i18n.js";
import { browserTimeZone, parseTime } from "../core/preferences.js";
import { CHANNELS, NOTIFICATION_EVENTS, type Preferences, type PreferencesUpdate, type QuietHours } from "../core/types.js";
import { ArrowLeftIcon } from "./icons.js";

export interface PreferencesViewProps {
  t: Messages;
  preferences: Preferences;
  loaded: boolean;
  onChange: (update: PreferencesUpdate) => Promise<Preferences | null>;
  onClose: () => void;
  /** « Activer les notifications » / « Notifications push activées », shown first. */
  push?: ReactNode;
}

const DEFAULT_QUIET: Omit<QuietHours, "timezone"> = { start: "20:00", end: "08:00", days: [1, 2, 3, 4, 5, 6, 7] };

export function PreferencesView({ t, preferences, loaded, onChange, onClose, push }: PreferencesViewProps): ReactElement {
  const p = t.prefs;
  const id = useId();
  const headingRef = useRef<HTMLHeadingElement>(null);
  const [status, setStatus] = useState<{ text: string; failed: boolean } | null>(null);
  // The quiet hours' times and days stay while they are off, to come back when turned on.
  const [quiet, setQuiet] = useState(() => ({ ...DEFAULT_QUIET, ...(preferences.quietHours ?? {}) }));
  const quietOn = preferences.quietHours !== null;
  const timezone = preferences.quietHours?.timezone ?? browserTimeZone();

  useEffect(() => headingRef.current?.focus(), []);
  useEffect(() => {
    if (preferences.quietHours) setQuiet({ ...preferences.quietHours });
  }, [preferences.quietHours]);

  const save = (update: PreferencesUpdate) => {
    setStatus(null);
    void onChange(update).then((saved) => setStatus(saved ? { text: p.saved, failed: false } : { text: p.failed, failed: true }));
  };

  const saveQuiet = (next: Omit<QuietHours, "timezone">) => {
    setQuiet(next);
    if (!quietOn || parseTime(next.start) === null || parseTime(next.end) === null) return;
    // Kept here until fixed: the server refuses an empty span and a week without days.
    if (next.start === next.end || next.days.length === 0) setStatus({ text: p.quietInvalid, failed: true });
    else save({ quietHours: { timezone, start: next.start, end: next.end, days: next.days } });
  };

  return (
    <section className="tocsin-prefs" aria-labelledby={`${id}-title`} data-testid="tocsin-prefs-panel" data-loaded={loaded}>
      <div className="tocsin-prefs-head">
        <button type="button" className="tocsin-iconbtn" onClick={onClose} aria-label={p.back} title={p.back} data-testid="tocsin-prefs-back">
          <ArrowLeftIcon width={16} height={16} />
        </button>
        <h3 id={`${id}-title`} ref={headingRef} tabIndex={-1}>
          {p.title}
        </h3>
      </div>
      <div className="tocsin-prefs-body">
        {push && (
          <fieldset className="tocsin-fieldset">
            <legend>{t.push.heading}</legend>
            {push}
          </fieldset>
        )}
        <p className="tocsin-note" id={`${id}-critical`} data-testid="tocsin-prefs-critical">
          {p.criticalNote}
        </p>
        <table className="tocsin-prefs-table" aria-describedby={`${id}-critical`}>
          <caption>{p.perKind}</caption>
          <thead>
            <tr>
              <th scope="col">{p.kind}</th>
              {CHANNELS.map((channel) => (
                <th scope="col" key={channel}>
                  {p.channels[channel]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {NOTIFICATION_EVENTS.map((event) => (
              <tr key={event}>
                <th scope="row">{p.kinds[event]}</th>
                {CHANNELS.map((channel) => (
                  <td key={channel}>
                    <input
                      type="checkbox"
                      checked={preferences.events[event][channel]}
                      aria-label={p.channelOf(p.kinds[event], p.channels[channel])}
                      data-testid={`tocsin-pref-${event}-${channel}`}
                      onChange={(change) => save({ events: { [event]: { [channel]: change.target.checked } } })}
                    />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>

        <fieldset className="tocsin-fieldset">
          <legend>{p.quietHours}</legend>
          <label className="tocsin-check">
            <input
              type="checkbox"
              checked={quietOn}
              data-testid="tocsin-quiet"
              onChange={(change) =>
                save({ quietHours: change.target.checked ? { timezone, start: quiet.start, end: quiet.end, days: quiet.days } : null })
              }
            />
            <span>{p.quietEnabled}</span>
          </label>
          <div className="tocsin-row">
            <label className="tocsin-field">
              <span>{p.from}</span>
              <input
                type="time"
                value={quiet.start}
                disabled={!quietOn}
                data-testid="tocsin-quiet-start"
                onChange={(change) => change.target.value && saveQuiet({ ...quiet, start: change.target.value })}
              />
            </label>
            <label className="tocsin-field">
              <span>{p.to}</span>
              <input
                type="time"
                value={quiet.end}
                disabled={!quietOn}
                data-testid="tocsin-quiet-end"
                onChange={(change) => change.target.value && saveQuiet({ ...quiet, end: change.target.value })}
              />
            </label>
          </div>
          <fieldset className="tocsin-days" disabled={!quietOn}>
            <legend>{p.days}</legend>
            {p.weekdays.map((day, index) => {
              const iso = index + 1;
              return (
                <label key={iso} className="tocsin-day" title={day.long}>
                  <input
                    type="checkbox"
                    checked={quiet.days.includes(iso)}
                    aria-label={day.long}
                    data-testid={`tocsin-quiet-day-${iso}`}
                    onChange={(change) =>
                      saveQuiet({
                        ...quiet,
                        days: change.target.checked
                          ? [...quiet.days, iso].sort((a, b) => a - b)
                          : quiet.days.filter((d) => d !== iso),
                      })
                    }
                  />
                  <span aria-hidden="true">{day.short}</span>
                </label>
              );
            })}
          </fieldset>
          <p className="tocsin-sub">{p.timezone(timezone)}</p>
        </fieldset>

        <fieldset className="tocsin-fieldset">
          <legend>{p.digest}</legend>
          <div className="tocsin-row">
            <label className="tocsin-field">
              <span className="tocsin-sr-only">{p.digest}</span>
              <select
                value={preferences.digest.email}
                data-testid="tocsin-digest"
                onChange={(change) => save({ digest: { email: change.target.value === "daily" ? "daily" : "off" } })}
              >
                <option value="off">{p.digestOff}</option>
                <option value="daily">{p.digestDaily}</option>
              </select>
            </label>
            <label className="tocsin-field">
              <span>{p.digestAt}</span>
              <input
                type="time"
                value={preferences.digest.at}
                disabled={preferences.digest.email === "off"}
                data-testid="tocsin-digest-at"
                onChange={(change) => change.target.value && save({ digest: { at: change.target.value } })}
              />
            </label>
          </div>
        </fieldset>

        <div className="tocsin-prefs-foot">
          <p
            className={`tocsin-status${status?.failed ? " is-failed" : ""}`}
            role="status"
            aria-live="polite"
            data-testid="tocsin-prefs-status"
          >
            {status?.text ?? ""}
          </p>
          <button type="button" className="tocsin-btn" onClick={onClose} data-testid="tocsin-prefs-done">
            {p.back}
          </button>
        </div>
      </div>
    </section>
  );
}
