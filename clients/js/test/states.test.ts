// Inbox states in the store (DESIGN §7), the browser-notification rule with preferences and
// quiet hours, and the snooze menu's times: pure functions, no I/O.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { messages } from "../src/core/i18n.js";
import { normalise, takenAction } from "../src/core/item.js";
import { describeForBrowser, shouldNotifyInBrowser } from "../src/core/notify.js";
import { inQuietHours, mergePreferences, normalisePreferences } from "../src/core/preferences.js";
import { NotificationStore } from "../src/core/store.js";
import { DEFAULT_PREFERENCES, type AnyNotification, type Preferences } from "../src/core/types.js";
import { formatUntil, fromLocalInput, snoozeTimes, toLocalInput } from "../src/react/snooze.js";

function email(cursor: number, extra: Record<string, unknown> = {}): AnyNotification {
  return {
    event: "email-received",
    id: `e${cursor}`,
    subject: `Courrier ${cursor}`,
    from: "Greffe <greffe@tj.fr>",
    userId: "alice",
    tenantId: "firm-a",
    timestamp: "2026-01-07T09:00:00.000Z",
    cursor,
    read: false,
    ...extra,
  } as unknown as AnyNotification;
}

function deadline(cursor: number, urgency: string, extra: Record<string, unknown> = {}): AnyNotification {
  return {
    event: "deadline-alert",
    id: `d${cursor}`,
    dossierNumber: "D-2026-021",
    message: "Délai OQTF expire demain",
    urgency,
    deadlineType: "OQTF",
    remainingDays: 1,
    userId: "alice",
    tenantId: "firm-a",
    timestamp: "2026-01-07T09:00:00.000Z",
    cursor,
    read: false,
    ...extra,
  } as unknown as AnyNotification;
}

const ids = (items: readonly AnyNotification[]) => items.map((item) => item.id);

/** A store holding e1…e<n> live (unread, unseen), newest first, with the server's counts. */
function storeWith(n: number): NotificationStore {
  const store = new NotificationStore();
  for (let cursor = 1; cursor <= n; cursor += 1) store.add(email(cursor), "live");
  store.setCounts(n, n);
  return store;
}

describe("inbox states in the store", () => {
  it("keeps archived and snoozed items out of the inbox and the seed's groups", () => {
    const store = new NotificationStore();
    store.add(email(1, { archived: true, read: true }), "page");
    store.add(email(2, { snoozedUntil: "2026-01-08T09:00:00.000Z" }), "page");
    store.add(email(3), "page");
    assert.deepEqual(ids(store.all()), ["e3"]);
    assert.deepEqual(ids(store.groups().emails as unknown as AnyNotification[]), ["e3"]);
    assert.deepEqual(ids(store.archived()), ["e1"]);
    assert.deepEqual(ids(store.snoozed()), ["e2"]);
    assert.equal(store.oldestCursor(), 3, "paging the inbox starts below its own items");
    assert.equal(store.oldestArchivedCursor(), 1);
  });

  it("counts unread and unseen in the inbox only, and follows local changes", () => {
    const store = storeWith(4);
    assert.deepEqual([store.unreadCount, store.unseenCount], [4, 4]);
    store.markSeen(["e4", "e3"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [4, 2]);
    store.markRead(["e2"]); // read implies seen, as on the server
    assert.deepEqual([store.unreadCount, store.unseenCount], [3, 1]);
    store.archive(["e1"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [2, 0]);
    store.snooze(["e4"], "2026-01-08T09:00:00.000Z");
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 0]);
    store.unarchive(["e1"]);
    store.unsnooze(["e4"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [3, 1]);
    assert.deepEqual(ids(store.all()), ["e4", "e3", "e2", "e1"], "back in cursor order");
  });

  it("archiving ends a snooze and snoozing leaves the archive, as the server does", () => {
    const store = storeWith(2);
    store.snooze(["e1"], "2026-01-08T09:00:00.000Z");
    store.archive(["e1"]);
    assert.equal(store.get("e1")?.snoozedUntil, null);
    assert.deepEqual(ids(store.archived()), ["e1"]);
    store.snooze(["e1"], "2026-01-09T09:00:00.000Z");
    assert.equal(store.get("e1")?.archived, false);
    assert.deepEqual(ids(store.snoozed()), ["e1"]);
  });

  it("records an action once taken, which reads the item", () => {
    const store = storeWith(1);
    store.act("e1", "acknowledge", "2026-01-07T10:00:00.000Z");
    const item = store.get("e1")!;
    assert.equal(takenAction(item), "acknowledge");
    assert.equal(item.actedAt, "2026-01-07T10:00:00.000Z");
    assert.equal(item.read, true);
    assert.deepEqual([store.unreadCount, store.unseenCount], [0, 0]);
  });

  it("keeps the seed's dossier `action` apart from the action taken", () => {
    const dossier = normalise({
      event: "dossier-updated",
      id: "x1",
      dossierNumber: "D-1",
      dossierTitle: "Arvel SAS",
      action: "status_changed",
      userId: "alice",
      tenantId: "firm-a",
      timestamp: "2026-01-07T09:00:00.000Z",
      cursor: 1,
      read: false,
    } as unknown as AnyNotification);
    assert.equal(dossier.event === "dossier-updated" && dossier.action, "status_changed");
    assert.equal(takenAction(dossier), null);
  });

  it("puts a refused change back as it was", () => {
    const store = storeWith(3);
    const previous = store.archive(["e2", "e3"]);
    assert.deepEqual(ids(store.all()), ["e1"]);
    store.restore(previous);
    assert.deepEqual(ids(store.all()), ["e3", "e2", "e1"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [3, 3]);
  });

  it("takes the server's counts whenever they come, adding newer live items on top", () => {
    const store = storeWith(2);
    store.setCounts(7, 5, 2); // the server knows of items this client does not hold
    assert.deepEqual([store.unreadCount, store.unseenCount], [7, 5]);
    store.add(email(3), "live");
    assert.deepEqual([store.unreadCount, store.unseenCount], [8, 6]);
    store.setCounts(1, 0, 2); // counted up to cursor 2: e3 is still unread on top
    assert.deepEqual([store.unreadCount, store.unseenCount], [2, 1]);
  });

  it("normalises what a seed server leaves out, and keeps only sound actions", () => {
    const item = normalise(
      email(1, {
        read: true,
        actions: [
          { id: "open", label: "Ouvrir", url: "/dossiers/D-1", primary: true },
          { id: "evil", label: "Piège", url: "javascript:alert(1)" },
          { id: "", label: "sans id" },
          { id: "a", label: "A" },
          { id: "b", label: "B" },
        ],
      }),
    );
    assert.equal(item.seen, true, "read implies seen");
    assert.equal(item.archived, false);
    assert.equal(item.snoozedUntil, null);
    assert.equal(item.actionTaken, null);
    assert.equal(item.critical, false);
    assert.deepEqual(item.actions, [
      { id: "open", label: "Ouvrir", url: "/dossiers/D-1", primary: true },
      { id: "evil", label: "Piège" },
      { id: "a", label: "A" },
    ]);
    assert.equal(normalise(deadline(2, "critical")).critical, true, "the seed's critical when absent");
    assert.equal(normalise(deadline(3, "critical", { critical: false })).critical, false, "the server's word wins");
  });
});

describe("notifications-changed", () => {
  const counts = { unreadCount: 0, unseenCount: 0 };

  it("mirrors each change kind and takes its counts", () => {
    const store = storeWith(6);
    store.applyChange({ change: "seen", ids: ["e6"], unreadCount: 6, unseenCount: 5 });
    assert.equal(store.get("e6")?.seen, true);
    store.applyChange({ change: "read", ids: ["e5"], unreadCount: 5, unseenCount: 4 });
    assert.equal(store.get("e5")?.read, true);
    store.applyChange({ change: "archived", ids: ["e4"], unreadCount: 4, unseenCount: 3 });
    assert.deepEqual(ids(store.archived()), ["e4"]);
    store.applyChange({ change: "snoozed", ids: ["e3"], until: "2026-01-08T09:00:00.000Z", unreadCount: 3, unseenCount: 2 });
    assert.equal(store.get("e3")?.snoozedUntil, "2026-01-08T09:00:00.000Z");
    store.applyChange({ change: "acted", ids: ["e2"], action: "acknowledge", actedAt: "2026-01-07T10:00:00.000Z", unreadCount: 2, unseenCount: 1 });
    assert.equal(store.get("e2")?.actionTaken, "acknowledge");
    assert.deepEqual(ids(store.all()), ["e6", "e5", "e2", "e1"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [2, 1]);
    store.applyChange({ change: "unarchived", ids: ["e4"], unreadCount: 3, unseenCount: 2 });
    store.applyChange({ change: "unsnoozed", ids: ["e3"], unreadCount: 4, unseenCount: 3 });
    assert.deepEqual(ids(store.all()), ["e6", "e5", "e4", "e3", "e2", "e1"]);
    assert.deepEqual([store.unreadCount, store.unseenCount], [4, 3]);
    store.applyChange({ change: "cleared", ids: [], all: true, upTo: 2, ...counts });
    assert.deepEqual(ids(store.all()), ["e6", "e5", "e4", "e3"]);
  });

  it("archive-all up to a cursor, and with onlyRead only the read items", () => {
    const store = storeWith(5);
    store.markRead(["e1", "e4"]);
    store.applyChange({ change: "archived", ids: [], all: true, upTo: 4, onlyRead: true, unreadCount: 3, unseenCount: 3 });
    assert.deepEqual(ids(store.archived()), ["e4", "e1"]);
    assert.deepEqual(ids(store.all()), ["e5", "e3", "e2"]);
    store.applyChange({ change: "archived", ids: [], all: true, upTo: 3, unreadCount: 1, unseenCount: 1 });
    assert.deepEqual(ids(store.all()), ["e5"], "cursor 5 came after the upTo");
    assert.deepEqual([store.unreadCount, store.unseenCount], [1, 1]);
  });

  it("archive-all leaves snoozed items where they are", () => {
    const store = storeWith(3);
    store.snooze(["e2"], "2026-01-08T09:00:00.000Z");
    store.archiveAll();
    assert.deepEqual(ids(store.archived()), ["e3", "e1"]);
    assert.deepEqual(ids(store.snoozed()), ["e2"]);
  });

  it("mark-all-read up to a cursor reads and sees", () => {
    const store = storeWith(3);
    store.applyChange({ change: "read", ids: [], all: true, upTo: 2, unreadCount: 1, unseenCount: 1 });
    assert.deepEqual(store.all().map((n) => [n.id, n.read, n.seen]), [
      ["e3", false, false],
      ["e2", true, true],
      ["e1", true, true],
    ]);
  });

  it("names the ids it does not hold (the client fetches them)", () => {
    const store = storeWith(1);
    assert.deepEqual(store.applyChange({ change: "unsnoozed", ids: ["e1", "e9"], unreadCount: 2, unseenCount: 2 }), ["e9"]);
  });
});

describe("notification-due", () => {
  it("puts the item back on top, unread and unseen, though its cursor is old", () => {
    const store = storeWith(3);
    store.markRead(["e1"]);
    store.snooze(["e1"], "2026-01-08T09:00:00.000Z");
    store.add(email(4), "live");
    const due = store.due({ ...email(1), read: false, seen: false, snoozedUntil: null } as AnyNotification);
    assert.equal(due?.read, false);
    assert.deepEqual(ids(store.all()), ["e1", "e4", "e3", "e2"]);
    assert.equal(store.unreadCount, 4);
    assert.equal(store.since, 4, "an old cursor does not move `since` back");
    // Newer notifications go above it; the order holds when other states change.
    store.add(email(5), "live");
    store.markRead(["e3"]);
    assert.deepEqual(ids(store.all()), ["e5", "e1", "e4", "e3", "e2"]);
    // An inbox page refreshing the item keeps it in place.
    store.add(email(1, { seen: true }), "page");
    assert.deepEqual(ids(store.all()), ["e5", "e1", "e4", "e3", "e2"]);
    assert.equal(store.get("e1")?.seen, true);
  });

  it("adds an item this client never held, and the latest return comes first", () => {
    const store = storeWith(3);
    store.due(email(0, { id: "old-a" }));
    store.due(email(0, { id: "old-b" }));
    assert.deepEqual(ids(store.all()).slice(0, 3), ["old-b", "old-a", "e3"]);
  });

  it("forgets the place on top once archived or snoozed again", () => {
    const store = storeWith(3);
    store.due(email(1));
    store.archive(["e1"]);
    store.unarchive(["e1"]);
    assert.deepEqual(ids(store.all()), ["e3", "e2", "e1"]);
  });
});

describe("reconcile after a reconnect", () => {
  it("drops inbox items the fresh first page no longer lists (they left elsewhere)", () => {
    const store = storeWith(4);
    store.reconcile([email(4), email(2)], null, 4);
    assert.deepEqual(ids(store.all()), ["e4", "e2"]);
  });

  it("keeps items newer than the question and older than a partial page", () => {
    const store = storeWith(5);
    store.reconcile([email(4), email(3)], 3, 4); // asked at cursor 4, a full page down to 3
    assert.deepEqual(ids(store.all()), ["e5", "e4", "e3", "e2", "e1"]);
  });
});

const fr = messages("fr");
const at = (iso: string) => new Date(iso);

describe("browser notifications: the rule", () => {
  it("with the default preferences, is the seed's policy", () => {
    const cases: [AnyNotification, boolean][] = [
      [email(1), true],
      [deadline(2, "critical"), true],
      [deadline(3, "urgent"), false],
      [{ event: "system-notification", id: "s1", title: "RPVA", message: "échec", type: "error", timestamp: "", cursor: 4, read: false } as unknown as AnyNotification, true],
      [{ event: "system-notification", id: "s2", title: "Info", message: "maintenance", type: "info", timestamp: "", cursor: 5, read: false } as unknown as AnyNotification, false],
      [{ event: "dossier-updated", id: "x", dossierNumber: "D-1", dossierTitle: "Arvel", action: "updated", timestamp: "", cursor: 6, read: false } as unknown as AnyNotification, false],
    ];
    for (const [item, shown] of cases) {
      assert.equal(shouldNotifyInBrowser(item, DEFAULT_PREFERENCES), shown, item.id);
      assert.equal(describeForBrowser(item, fr) !== null, shown, item.id);
    }
    assert.equal(describeForBrowser(deadline(2, "critical"), fr)?.requireInteraction, true);
    assert.equal(describeForBrowser(email(1), fr)?.requireInteraction, false);
  });

  const muted: Preferences = mergePreferences(DEFAULT_PREFERENCES, {
    events: { "deadline-alert": { browser: false }, "email-received": { browser: false } },
  });
  const allDayQuiet: Preferences = mergePreferences(DEFAULT_PREFERENCES, {
    events: { "deadline-alert": { browser: true } },
    quietHours: { timezone: "Europe/Paris", start: "00:00", end: "23:59", days: [1, 2, 3, 4, 5, 6, 7] },
  });

  it("shows a critical item even muted and in quiet hours, and holds it on screen", () => {
    const critical = normalise(deadline(1, "critical"));
    assert.equal(shouldNotifyInBrowser(critical, muted), true);
    assert.equal(shouldNotifyInBrowser(critical, allDayQuiet, at("2026-03-11T12:00:00Z")), true);
    const flagged = normalise(email(2, { critical: true }));
    const spec = describeForBrowser(flagged, fr, muted);
    assert.equal(spec?.requireInteraction, true, "any critical item stays until dismissed");
  });

  it("shows a non-critical item only when its kind is on and it is not quiet hours", () => {
    const urgent = normalise(deadline(1, "urgent"));
    const unmuted = mergePreferences(DEFAULT_PREFERENCES, { events: { "deadline-alert": { browser: true } } });
    assert.equal(shouldNotifyInBrowser(urgent, unmuted), true);
    assert.equal(describeForBrowser(urgent, fr, unmuted)?.title, "Alerte de délai");
    assert.equal(shouldNotifyInBrowser(urgent, muted), false);
    assert.equal(shouldNotifyInBrowser(urgent, allDayQuiet, at("2026-03-11T12:00:00Z")), false);
    assert.equal(shouldNotifyInBrowser(normalise(email(2)), muted), false);
  });
});

describe("quiet hours", () => {
  // 20:00–08:00 in Paris (UTC+1 in winter), starting on Fridays only.
  const fridayNights = { timezone: "Europe/Paris", start: "20:00", end: "08:00", days: [5] };

  it("span midnight: the night belongs to the day it starts", () => {
    assert.equal(inQuietHours(fridayNights, at("2026-01-09T20:30:00Z")), true, "Friday 21:30 in Paris");
    assert.equal(inQuietHours(fridayNights, at("2026-01-10T06:30:00Z")), true, "Saturday 07:30 in Paris");
    assert.equal(inQuietHours(fridayNights, at("2026-01-10T07:00:00Z")), false, "Saturday 08:00: over");
    assert.equal(inQuietHours(fridayNights, at("2026-01-09T06:30:00Z")), false, "Friday 07:30: Thursday's night is not quiet");
    assert.equal(inQuietHours(fridayNights, at("2026-01-10T20:30:00Z")), false, "Saturday night is not quiet");
  });

  it("are read in their own time zone, not the browser's", () => {
    const sameInstant = at("2026-01-09T18:30:00Z"); // 19:30 in Paris, 20:30 in Helsinki
    assert.equal(inQuietHours(fridayNights, sameInstant), false);
    assert.equal(inQuietHours({ ...fridayNights, timezone: "Europe/Helsinki" }, sameInstant), true);
  });

  it("within a day, on the days given; none when null", () => {
    const lunch = { timezone: "UTC", start: "12:00", end: "14:00", days: [1, 2, 3, 4, 5] };
    assert.equal(inQuietHours(lunch, at("2026-01-07T12:00:00Z")), true, "Wednesday 12:00");
    assert.equal(inQuietHours(lunch, at("2026-01-07T14:00:00Z")), false, "the end is not quiet");
    assert.equal(inQuietHours(lunch, at("2026-01-10T13:00:00Z")), false, "a Saturday");
    assert.equal(inQuietHours(null, at("2026-01-07T13:00:00Z")), false);
  });
});

describe("preferences", () => {
  it("merge a partial update as the server does (quiet hours whole, the rest per field)", () => {
    const quiet = { timezone: "Europe/Paris", start: "20:00", end: "08:00", days: [1, 2, 3, 4, 5] };
    const next = mergePreferences(DEFAULT_PREFERENCES, {
      events: { "dossier-updated": { browser: true } },
      quietHours: quiet,
      digest: { email: "daily" },
    });
    assert.deepEqual(next.events["dossier-updated"], { browser: true, push: false, email: false });
    assert.deepEqual(next.events["email-received"], DEFAULT_PREFERENCES.events["email-received"]);
    assert.deepEqual(next.quietHours, quiet);
    assert.deepEqual(next.digest, { email: "daily", at: "08:00", timezone: "Europe/Paris" });
    assert.equal(mergePreferences(next, { quietHours: null }).quietHours, null);
    assert.deepEqual(mergePreferences(next, { digest: { at: "07:30" } }).quietHours, quiet, "absent: kept");
  });

  it("fill what a document leaves out from the defaults", () => {
    const prefs = normalisePreferences({ events: { "deadline-alert": { browser: true } }, quietHours: { start: "22:00", end: "07:00" } });
    assert.deepEqual(prefs.events["deadline-alert"], { browser: true, push: true, email: true });
    assert.equal(prefs.quietHours?.start, "22:00");
    assert.deepEqual(prefs.quietHours?.days, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(normalisePreferences({}).quietHours, null);
  });
});

describe("snooze menu times", () => {
  it("in an hour, tomorrow 9:00, the next Monday 9:00", () => {
    const wednesday = new Date(2026, 2, 11, 16, 20); // local time
    const times = snoozeTimes(wednesday);
    assert.equal(times.inOneHour.getTime() - wednesday.getTime(), 3_600_000);
    assert.equal(toLocalInput(times.tomorrow), "2026-03-12T09:00");
    assert.equal(toLocalInput(times.monday), "2026-03-16T09:00");
    assert.equal(toLocalInput(snoozeTimes(new Date(2026, 2, 16, 8, 0)).monday), "2026-03-23T09:00", "on a Monday: the next one");
    assert.equal(toLocalInput(snoozeTimes(new Date(2026, 2, 15, 22, 0)).monday), "2026-03-16T09:00", "on a Sunday: tomorrow");
  });

  it("say briefly when a snooze ends", () => {
    const now = new Date(2026, 2, 11, 16, 20);
    const at = (d: number, h: number, m = 0) => new Date(2026, 2, d, h, m).toISOString();
    assert.equal(formatUntil(at(11, 17, 20), now, "fr"), "17:20");
    assert.equal(formatUntil(at(12, 9), now, "fr"), "demain 09:00");
    assert.equal(formatUntil(at(12, 9), now, "en"), "tomorrow 09:00");
    assert.equal(formatUntil(at(16, 9), now, "fr"), "lundi 09:00");
    assert.match(formatUntil(at(30, 9), now, "fr"), /^30 mars 09:00$/);
  });

  it("read a datetime-local value back, or nothing when incomplete", () => {
    assert.equal(fromLocalInput("2026-03-12T09:30")?.getTime(), new Date(2026, 2, 12, 9, 30).getTime());
    assert.equal(fromLocalInput(""), null);
  });
});
