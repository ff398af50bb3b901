// The Archive tab's snoozed items (« Reportées ») in the store: the list follows local
// changes, notifications-changed and notification-due; a fresh first page drops those that
// stopped being snoozed elsewhere; and how until when reads. Pure functions, no I/O.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { messages } from "../src/core/i18n.js";
import { NotificationStore } from "../src/core/store.js";
import type { AnyNotification } from "../src/core/types.js";
import { formatWake } from "../src/react/snooze.js";

const MONDAY = "2026-03-16T08:00:00.000Z";
const TUESDAY = "2026-03-17T08:00:00.000Z";

function email(cursor: number, extra: Record<string, unknown> = {}): AnyNotification {
  return {
    event: "email-received",
    id: `e${cursor}`,
    subject: `Courrier ${cursor}`,
    from: "Greffe <greffe@tj.fr>",
    userId: "alice",
    tenantId: "firm-a",
    timestamp: "2026-03-11T09:00:00.000Z",
    cursor,
    read: false,
    ...extra,
  } as unknown as AnyNotification;
}

const ids = (items: readonly AnyNotification[]) => items.map((item) => item.id);

/** e1…e<n> live in the inbox, with the server's counts. */
function storeWith(n: number, maxItems = 500): NotificationStore {
  const store = new NotificationStore(maxItems);
  for (let cursor = 1; cursor <= n; cursor += 1) store.add(email(cursor), "live");
  store.setCounts(n, n);
  return store;
}

describe("snoozed items in the store", () => {
  it("lists what is snoozed, newest first, apart from the inbox and the archive", () => {
    const store = storeWith(4);
    store.snooze(["e1", "e3"], MONDAY);
    store.archive(["e2"]);
    assert.deepEqual(ids(store.snoozed()), ["e3", "e1"]);
    assert.deepEqual(ids(store.archived()), ["e2"]);
    assert.deepEqual(ids(store.all()), ["e4"]);
    assert.equal(store.oldestSnoozedCursor(), 1);
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1], "snoozed items leave the counts");
  });

  it("follows notifications-changed: snoozed, re-snoozed, unsnoozed, archived", () => {
    const store = storeWith(3);
    store.applyChange({ change: "snoozed", ids: ["e2", "e1"], until: MONDAY, unreadCount: 1, unseenCount: 1 });
    assert.deepEqual(ids(store.snoozed()), ["e2", "e1"]);
    store.applyChange({ change: "snoozed", ids: ["e2"], until: TUESDAY, unreadCount: 1, unseenCount: 1 });
    assert.equal(store.get("e2")?.snoozedUntil, TUESDAY, "until the new time");
    store.applyChange({ change: "unsnoozed", ids: ["e2"], unreadCount: 2, unseenCount: 2 });
    assert.deepEqual(ids(store.snoozed()), ["e1"]);
    assert.deepEqual(ids(store.all()), ["e3", "e2"]);
    store.applyChange({ change: "archived", ids: ["e1"], unreadCount: 2, unseenCount: 2 });
    assert.deepEqual(ids(store.snoozed()), [], "archiving ends the snooze");
    assert.deepEqual(ids(store.archived()), ["e1"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [2, 2]);
  });

  it("names the ids of a snooze it does not hold, for the caller to load them", () => {
    const store = storeWith(1);
    const unknown = store.applyChange({ change: "snoozed", ids: ["e1", "e9"], until: MONDAY, unreadCount: 0, unseenCount: 0 });
    assert.deepEqual(unknown, ["e9"]);
    assert.deepEqual(ids(store.snoozed()), ["e1"]);
  });

  it("lets an item go from the list when its snooze ends (notification-due), back on top", () => {
    const store = storeWith(3);
    store.snooze(["e1"], MONDAY);
    store.markRead(["e1"]); // reading a snoozed item does not touch the inbox's counts
    assert.deepEqual([store.unreadCount, store.unseenCount], [2, 2]);
    store.due({ ...email(1), read: false } as AnyNotification);
    assert.deepEqual(ids(store.snoozed()), []);
    assert.deepEqual(ids(store.all()), ["e1", "e3", "e2"]);
    assert.equal(store.get("e1")?.read, false);
    assert.deepEqual([store.unreadCount, store.unseenCount], [3, 3]);
  });

  it("puts a refused unsnooze back in the list", () => {
    const store = storeWith(2);
    store.snooze(["e1"], MONDAY);
    const previous = store.unsnooze(["e1"]);
    assert.deepEqual(ids(store.snoozed()), []);
    store.restore(previous);
    assert.deepEqual(ids(store.snoozed()), ["e1"]);
    assert.equal(store.get("e1")?.snoozedUntil, MONDAY);
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1]);
  });

  it("takes a page of snoozed items as it comes (the page's counts are the truth)", () => {
    const store = storeWith(2);
    store.add(email(9, { snoozedUntil: MONDAY, seen: true }), "page");
    store.add(email(1, { snoozedUntil: TUESDAY }), "page"); // held: its states are refreshed
    assert.deepEqual(ids(store.snoozed()), ["e9", "e1"]);
    assert.equal(store.get("e1")?.snoozedUntil, TUESDAY);
    store.setCounts(1, 1);
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1]);
  });

  it("drops, on a fresh first page, held snoozed items that stopped being snoozed elsewhere", () => {
    const store = storeWith(6);
    store.snooze(["e1", "e2", "e4", "e5"], MONDAY);
    const asked = store.snoozedNow();
    // While the page was on its way: e6 was snoozed here, e5 was snoozed again until later.
    store.snooze(["e6"], MONDAY);
    store.snooze(["e5"], TUESDAY);
    // The page lists e4 only, down to cursor 2 (older ones are on the next page).
    const page = [email(4, { snoozedUntil: MONDAY })];
    store.reconcileSnoozed([...page, email(2, { snoozedUntil: MONDAY })], 2, asked);
    assert.deepEqual(ids(store.snoozed()), ["e6", "e5", "e4", "e2", "e1"], "nothing missing in its range");
    store.reconcileSnoozed(page, 4, asked);
    assert.deepEqual(ids(store.snoozed()), ["e6", "e5", "e4", "e2", "e1"], "e2 and e1 are below the page");
    store.reconcileSnoozed(page, null, asked);
    assert.deepEqual(ids(store.snoozed()), ["e6", "e5", "e4"], "the whole list: e2 and e1 are gone");
    assert.equal(store.get("e1"), undefined);
    assert.deepEqual(ids(store.all()), ["e3"], "the inbox is untouched");
    store.reconcileSnoozed([], null, store.snoozedNow());
    assert.deepEqual(ids(store.snoozed()), [], "nothing is snoozed any more");
  });

  it("says the list has older items when some were dropped for room", () => {
    const store = storeWith(2, 3);
    store.snooze(["e1"], MONDAY);
    assert.equal(store.snoozedHasOlder, false);
    store.add(email(3), "live");
    store.add(email(4), "live"); // e1, the oldest, no longer fits
    assert.equal(store.snoozedHasOlder, true);
    assert.deepEqual(ids(store.snoozed()), []);
  });
});

describe("until when an item is snoozed", () => {
  const now = new Date(2026, 2, 11, 16, 20); // a Wednesday, local time
  const at = (d: number, h: number, m = 0) => new Date(2026, 2, d, h, m).toISOString();

  it("reads briefly in the locale's words", () => {
    assert.equal(formatWake(at(11, 17, 5), now, "fr"), "17:05");
    assert.equal(formatWake(at(12, 9), now, "fr"), "demain 9:00");
    assert.equal(formatWake(at(12, 9), now, "en"), "tomorrow 9:00");
    assert.equal(formatWake(at(16, 9), now, "fr"), "lun. 9:00");
    assert.equal(formatWake(at(16, 9), now, "en"), "Mon 9:00");
    assert.equal(formatWake(at(30, 14, 30), now, "fr"), "30 mars 14:30");
    assert.equal(formatWake(at(30, 14, 30), now, "en"), "30 Mar 14:30");
    assert.equal(formatWake("not a time", now, "fr"), "not a time");
  });

  it("as the list says it, with the button that ends it", () => {
    const fr = messages("fr");
    const en = messages("en");
    assert.equal(fr.snooze.untilShort(formatWake(at(16, 9), now, "fr")), "jusqu'à lun. 9:00");
    assert.equal(en.snooze.untilShort(formatWake(at(16, 9), now, "en")), "until Mon 9:00");
    assert.deepEqual([fr.snoozedHeading, fr.archivedHeading, fr.snooze.wake], ["Reportées", "Archivées", "Réveiller maintenant"]);
    assert.deepEqual([en.snoozedHeading, en.archivedHeading, en.snooze.wake], ["Snoozed", "Archived", "Unsnooze"]);
  });
});
