/** Relative times ("il y a 5 min", "5 min ago") that stay current. */
import { useEffect, useState } from "react";

import type { Locale } from "../core/i18n.js";

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
];

/** `timestamp` relative to `now`, in the locale's words. */
export function formatRelative(timestamp: string, now: number, locale: Locale): string {
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - now) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return locale === "en" ? "just now" : "à l'instant";
}

/** A full date and time, for the tooltip. */
export function formatAbsolute(timestamp: string, locale: Locale): string {
  const then = new Date(timestamp);
  if (Number.isNaN(then.getTime())) return timestamp;
  return then.toLocaleString(locale === "en" ? "en-GB" : "fr-FR", { dateStyle: "long", timeStyle: "short" });
}

/** The current time, refreshed every `intervalMs` so relative times move on. */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
