/**
 * The user's preferences on the client side: the document made whole, partial updates merged
 * as the server merges them, and quiet hours read in the preferences' own time zone.
 */
import {
  CHANNELS,
  DEFAULT_PREFERENCES,
  NOTIFICATION_EVENTS,
  type Channel,
  type DigestPreferences,
  type NotificationEvent,
  type Preferences,
  type PreferencesUpdate,
  type QuietHours,
} from "./types.js";

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** "HH:MM" as minutes after midnight, or null when it is not such a time. */
export function parseTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const match = TIME.exec(value);
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

function quietHoursOf(value: unknown): QuietHours | null {
  if (!value || typeof value !== "object") return null;
  const raw = value as Record<string, unknown>;
  if (parseTime(raw.start) === null || parseTime(raw.end) === null) return null;
  const days = Array.isArray(raw.days)
    ? [...new Set(raw.days.filter((d): d is number => Number.isInteger(d) && d >= 1 && d <= 7))].sort()
    : [1, 2, 3, 4, 5, 6, 7];
  return {
    timezone: typeof raw.timezone === "string" && raw.timezone ? raw.timezone : browserTimeZone(),
    start: raw.start as string,
    end: raw.end as string,
    days,
  };
}

/** A preferences document from the server with every field present (defaults fill gaps). */
export function normalisePreferences(value: unknown, base: Preferences = DEFAULT_PREFERENCES): Preferences {
  const raw = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
  const events = {} as Preferences["events"];
  const given = (raw.events && typeof raw.events === "object" ? raw.events : {}) as Record<string, unknown>;
  for (const event of NOTIFICATION_EVENTS) {
    const channels = (given[event] && typeof given[event] === "object" ? given[event] : {}) as Record<string, unknown>;
    const row = {} as Record<Channel, boolean>;
    for (const channel of CHANNELS) {
      row[channel] = typeof channels[channel] === "boolean" ? (channels[channel] as boolean) : base.events[event][channel];
    }
    events[event] = row;
  }
  const digestRaw = (raw.digest && typeof raw.digest === "object" ? raw.digest : {}) as Record<string, unknown>;
  const digest: DigestPreferences = {
    email: digestRaw.email === "daily" || digestRaw.email === "off" ? digestRaw.email : base.digest.email,
    at: parseTime(digestRaw.at) !== null ? (digestRaw.at as string) : base.digest.at,
    timezone: typeof digestRaw.timezone === "string" && digestRaw.timezone ? digestRaw.timezone : base.digest.timezone,
  };
  const quietHours = "quietHours" in raw ? quietHoursOf(raw.quietHours) : base.quietHours;
  return { events, quietHours, digest };
}

/** `update` applied over `current`, as the server applies a partial `set-preferences`. */
export function mergePreferences(current: Preferences, update: PreferencesUpdate): Preferences {
  const events = { ...current.events };
  for (const [event, channels] of Object.entries(update.events ?? {})) {
    if (!(event in events) || !channels) continue;
    const key = event as NotificationEvent;
    events[key] = { ...events[key], ...channels };
  }
  return {
    events,
    quietHours: "quietHours" in update ? (update.quietHours ?? null) : current.quietHours,
    digest: { ...current.digest, ...(update.digest ?? {}) },
  };
}

/** The browser's own time zone (what new quiet hours start in). */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const clocks = new Map<string, Intl.DateTimeFormat | null>();

function clockIn(timeZone: string): Intl.DateTimeFormat | null {
  if (!clocks.has(timeZone)) {
    try {
      clocks.set(
        timeZone,
        new Intl.DateTimeFormat("en-US", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
      );
    } catch {
      clocks.set(timeZone, null); // an unknown zone: the browser's own clock instead
    }
  }
  return clocks.get(timeZone) ?? null;
}

/** The ISO weekday (Monday = 1) and minutes after midnight of `now` in `timeZone`. */
export function wallClock(now: Date, timeZone: string): { weekday: number; minutes: number } {
  const clock = clockIn(timeZone);
  if (!clock) return { weekday: now.getDay() || 7, minutes: now.getHours() * 60 + now.getMinutes() };
  let weekday = 1;
  let hour = 0;
  let minute = 0;
  for (const part of clock.formatToParts(now)) {
    if (part.type === "weekday") weekday = WEEKDAYS[part.value] ?? 1;
    else if (part.type === "hour") hour = Number(part.value) % 24;
    else if (part.type === "minute") minute = Number(part.value);
  }
  return { weekday, minutes: hour * 60 + minute };
}

/**
 * Whether `now` falls in the quiet hours. A span from `start` to `end` belongs to the day it
 * starts on: with 20:00–08:00 on Friday only, Saturday 07:00 is quiet and Friday 07:00 is not.
 * `start` equal to `end` is the whole day.
 */
export function inQuietHours(quiet: QuietHours | null | undefined, now: Date = new Date()): boolean {
  if (!quiet) return false;
  const start = parseTime(quiet.start);
  const end = parseTime(quiet.end);
  if (start === null || end === null) return false;
  const { weekday, minutes } = wallClock(now, quiet.timezone);
  const days = new Set(quiet.days);
  const previous = weekday === 1 ? 7 : weekday - 1;
  if (start === end) return days.has(weekday);
  if (start < end) return days.has(weekday) && minutes >= start && minutes < end;
  return (days.has(weekday) && minutes >= start) || (days.has(previous) && minutes < end);
}
