/** Ordering of cursors: integers numerically, digit strings as big integers, else as text. */
import type { Cursor } from "./types.js";

const DIGITS = /^\d+$/;

/** Negative when `a` comes before `b`, positive after, 0 when equal. */
export function compareCursor(a: Cursor, b: Cursor): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = String(a);
  const sb = String(b);
  if (DIGITS.test(sa) && DIGITS.test(sb)) {
    const ba = BigInt(sa);
    const bb = BigInt(sb);
    return ba < bb ? -1 : ba > bb ? 1 : 0;
  }
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** The later of two cursors (`null` counts as "nothing yet"). */
export function maxCursor(a: Cursor | null, b: Cursor | null): Cursor | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareCursor(a, b) >= 0 ? a : b;
}

/** Whether a value looks like a cursor the server could have sent. */
export function isCursor(value: unknown): value is Cursor {
  return (
    (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === "string" && value.length > 0)
  );
}
