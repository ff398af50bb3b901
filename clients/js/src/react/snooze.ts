/** When the snooze menu's choices end, in the browser's time, and how a snooze end reads. */
import type { Locale } from "../core/i18n.js";

/** The hour « Demain 9 h » and « Lundi 9 h » mean. */
export const MORNING_HOUR = 9;

export interface SnoozeTimes {
  inOneHour: Date;
  /** Tomorrow at 9:00. */
  tomorrow: Date;
  /** The next Monday at 9:00 (a week ahead on a Monday, tomorrow on a Sunday). */
  monday: Date;
}

/** The menu's three fixed choices from `now` (local time). */
export function snoozeTimes(now: Date): SnoozeTimes {
  const inOneHour = new Date(now.getTime() + 60 * 60 * 1000);
  const tomorrow = morning(now, 1);
  const weekday = now.getDay() || 7; // ISO: Monday = 1 … Sunday = 7
  const monday = morning(now, 8 - weekday);
  return { inOneHour, tomorrow, monday };
}

function morning(from: Date, daysAhead: number): Date {
  const day = new Date(from.getFullYear(), from.getMonth(), from.getDate() + daysAhead, MORNING_HOUR, 0, 0, 0);
  return day;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A date as `<input type="datetime-local">` wants it: "2026-03-12T09:00" (local time). */
export function toLocalInput(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The value of a datetime-local input as a date (local time), or null when incomplete. */
export function fromLocalInput(value: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!match) return null;
  const [, y, mo, d, h, mi] = match.map(Number) as [number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, 0, 0);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** When a snooze ends, briefly: « 14:30 » today, « demain 09:00 », « lundi 09:00 », else a date. */
export function formatUntil(iso: string, now: Date, locale: Locale): string {
  const until = new Date(iso);
  if (Number.isNaN(until.getTime())) return iso;
  const tag = locale === "en" ? "en-GB" : "fr-FR";
  const time = until.toLocaleTimeString(tag, { hour: "2-digit", minute: "2-digit" });
  const days = Math.round((startOfDay(until) - startOfDay(now)) / 86_400_000);
  if (days === 0) return time;
  if (days === 1) return `${locale === "en" ? "tomorrow" : "demain"} ${time}`;
  if (days > 1 && days < 7) return `${until.toLocaleDateString(tag, { weekday: "long" })} ${time}`;
  return `${until.toLocaleDateString(tag, { day: "numeric", month: "short" })} ${time}`;
}

/**
 * When a snooze ends, in the list of snoozed items: « 14:30 » today, « demain 9:00 », « lun.
 * 9:00 » within the week, « 16 mars 9:00 » further (the locale's short forms).
 */
export function formatWake(iso: string, now: Date, locale: Locale): string {
  const until = new Date(iso);
  if (Number.isNaN(until.getTime())) return iso;
  const tag = locale === "en" ? "en-GB" : "fr-FR";
  const time = until.toLocaleTimeString(tag, { hour: "numeric", minute: "2-digit" });
  const days = Math.round((startOfDay(until) - startOfDay(now)) / 86_400_000);
  if (days === 0) return time;
  if (days === 1) return `${locale === "en" ? "tomorrow" : "demain"} ${time}`;
  if (days > 1 && days < 7) return `${until.toLocaleDateString(tag, { weekday: "short" })} ${time}`;
  return `${until.toLocaleDateString(tag, { day: "numeric", month: "short" })} ${time}`;
}

function startOfDay(date: Date): number {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}
