import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { backoffDelay } from "../src/core/backoff.js";
import { compareCursor } from "../src/core/cursor.js";
import { messages } from "../src/core/i18n.js";
import { describeForBrowser } from "../src/core/notify.js";
import { NotificationStore } from "../src/core/store.js";
import type { AnyNotification } from "../src/core/types.js";

let counter = 0;
function email(cursor: number, extra: Partial<AnyNotification> = {}): AnyNotification {
  counter += 1;
  return {
    event: "email-received",
    id: `e${cursor}`,
    subject: `Courrier ${counter}`,
    from: "Greffe <greffe@tj.fr>",
    userId: "alice",
    tenantId: "firm-a",
    timestamp: "2026-01-07T09:00:00.000Z",
    cursor,
    read: false,
    ...extra,
  } as AnyNotification;
}

describe("backoffDelay", () => {
  it("starts at reconnectDelay, doubles, and stops at the cap", () => {
    const mid = () => 0.5; // no jitter
    assert.equal(backoffDelay(0, 3000, { random: mid }), 3000);
    assert.equal(backoffDelay(1, 3000, { random: mid }), 6000);
    assert.equal(backoffDelay(2, 3000, { random: mid }), 12000);
    assert.equal(backoffDelay(10, 3000, { random: mid }), 30000);
    assert.equal(backoffDelay(3, 1000, { random: mid, max: 5000 }), 5000);
  });

  it("spreads delays by ±jitter", () => {
    assert.equal(backoffDelay(0, 1000, { random: () => 0, jitter: 0.3 }), 700);
    assert.equal(backoffDelay(0, 1000, { random: () => 0.999999, jitter: 0.3 }), 1300);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(0, 1000)));
    assert.ok(seen.size > 10, "random delays differ");
    for (const delay of seen) assert.ok(delay >= 700 && delay <= 1300, `${delay} within ±30 %`);
  });

  it("never exceeds the cap, even with jitter", () => {
    assert.equal(backoffDelay(20, 3000, { random: () => 0.99, max: 30000 }), 30000);
  });
});

describe("compareCursor", () => {
  it("orders integers, digit strings beyond 2^53, and opaque strings", () => {
    assert.ok(compareCursor(2, 10) < 0);
    assert.ok(compareCursor("9007199254740993", "9007199254740992") > 0);
    assert.equal(compareCursor("42", 42), 0);
    assert.ok(compareCursor("b", "a") > 0);
  });
});

describe("NotificationStore", () => {
  it("groups by kind, newest first, and de-duplicates by id", () => {
    const store = new NotificationStore();
    assert.equal(store.add(email(1), "live"), true);
    assert.equal(
      store.add({ event: "deadline-alert", id: "d2", dossierNumber: "D-1", message: "OQTF délai expire demain!", urgency: "critical", deadlineType: "OQTF", remainingDays: 1, userId: "alice", tenantId: "firm-a", timestamp: "2026-01-07T09:00:00.000Z", cursor: 2, read: false } as AnyNotification, "live"),
      true,
    );
    assert.equal(store.add(email(3), "live"), true);
    assert.equal(store.add(email(3), "live"), false, "same id again");
    const groups = store.groups();
    assert.deepEqual(groups.emails.map((n) => n.id), ["e3", "e1"]);
    assert.deepEqual(groups.deadlines.map((n) => n.id), ["d2"]);
    assert.deepEqual(groups.dossiers, []);
    assert.deepEqual(groups.system, []);
    assert.equal(store.unreadCount, 3);
    assert.equal(store.since, 3);
  });

  it("keeps items sorted by cursor even when they arrive out of order", () => {
    const store = new NotificationStore();
    store.add(email(5), "page");
    store.add(email(9), "live");
    store.add(email(7), "page");
    assert.deepEqual(store.all().map((n) => n.cursor), [9, 7, 5]);
    assert.equal(store.oldestCursor(), 5);
  });

  it("does not count twice what the server's unread count already covered", () => {
    const store = new NotificationStore();
    store.add(email(1), "page");
    store.add(email(2), "page");
    store.setUnreadCount(2, 2);
    assert.equal(store.unreadCount, 2);
    store.add(email(2, { id: "e2-dup" } as Partial<AnyNotification>), "live");
    assert.equal(store.unreadCount, 2, "cursor 2 was in the count");
    store.add(email(3), "live");
    assert.equal(store.unreadCount, 3, "cursor 3 is new");
    store.add(email(4, { read: true }), "live");
    assert.equal(store.unreadCount, 3, "already read elsewhere");
  });

  it("keeps live notifications that overtook the inbox page's count", () => {
    const store = new NotificationStore();
    store.add(email(5), "live"); // arrived while the page (up to cursor 4) was on its way
    store.add(email(4), "page");
    store.add(email(3, { read: true }), "page");
    store.setUnreadCount(1, 4); // the server counted cursor 4 only
    assert.equal(store.unreadCount, 2, "cursor 5 is unread on top of the count");
    store.add(email(5, { id: "e5-dup" } as Partial<AnyNotification>), "live");
    assert.equal(store.unreadCount, 2, "cursor 5 is not counted twice");
    const empty = new NotificationStore();
    empty.add(email(7), "live");
    empty.setUnreadCount(0, null); // an empty page counted nothing
    assert.equal(empty.unreadCount, 1);
  });

  it("marks read locally and mirrors notifications-read (ids, all, cleared)", () => {
    const store = new NotificationStore();
    for (const cursor of [1, 2, 3, 4]) store.add(email(cursor), "live");
    assert.deepEqual(store.markRead(["e1", "e1", "missing"]), ["e1"]);
    assert.equal(store.unreadCount, 3);
    store.applyRead({ ids: ["e2"], all: false, unreadCount: 2 });
    assert.equal(store.get("e2")?.read, true);
    assert.equal(store.unreadCount, 2);
    store.applyRead({ ids: [], all: true, upTo: 3, unreadCount: 1 });
    assert.deepEqual(store.all().map((n) => n.read), [false, true, true, true]);
    assert.equal(store.unreadCount, 1);
    store.applyRead({ ids: [], all: true, cleared: true, upTo: 3, unreadCount: 1 });
    assert.deepEqual(store.all().map((n) => n.id), ["e4"]);
    store.applyRead({ ids: [], all: true, cleared: true, unreadCount: 0 });
    assert.deepEqual(store.all(), []);
    assert.equal(store.unreadCount, 0);
  });

  it("takes read flags from inbox pages for items it already holds", () => {
    const store = new NotificationStore();
    store.add(email(1), "live");
    store.add(email(1, { read: true }), "page");
    assert.equal(store.get("e1")?.read, true);
  });

  it("holds at most maxItems and then knows there is more in the inbox", () => {
    const store = new NotificationStore(3);
    for (const cursor of [1, 2, 3, 4, 5]) store.add(email(cursor), "live");
    assert.deepEqual(store.all().map((n) => n.cursor), [5, 4, 3]);
    assert.equal(store.hasOlder, true);
    assert.equal(store.get("e1"), undefined);
  });

  it("returns the same grouped arrays until something changes", () => {
    const store = new NotificationStore();
    store.add(email(1), "live");
    const first = store.groups();
    assert.equal(store.groups(), first);
    store.markRead(["e1"]);
    assert.notEqual(store.groups(), first);
  });
});

describe("browser notifications policy (the seed's)", () => {
  const fr = messages("fr");
  it("new e-mails", () => {
    const spec = describeForBrowser(email(1), fr);
    assert.equal(spec?.title, "Nouvel e-mail");
    assert.equal(spec?.requireInteraction, false);
    assert.equal(spec?.tag, "tocsin:e1");
  });
  it("critical deadlines stay until dismissed; others do not notify", () => {
    const base = { event: "deadline-alert", id: "d", dossierNumber: "D-1", message: "OQTF délai expire demain!", deadlineType: "OQTF", remainingDays: 1, userId: "u", tenantId: "t", timestamp: "", cursor: 1, read: false };
    const critical = describeForBrowser({ ...base, urgency: "critical" } as AnyNotification, fr);
    assert.equal(critical?.title, "⚠️ Délai critique");
    assert.equal(critical?.requireInteraction, true);
    assert.match(critical?.body ?? "", /OQTF délai expire demain!/);
    assert.equal(describeForBrowser({ ...base, urgency: "urgent" } as AnyNotification, fr), null);
  });
  it("system notifications of type error only", () => {
    const base = { event: "system-notification", id: "s", title: "RPVA", message: "échec", timestamp: "", cursor: 1, read: false };
    assert.equal(describeForBrowser({ ...base, type: "error" } as AnyNotification, fr)?.title, "RPVA");
    assert.equal(describeForBrowser({ ...base, type: "info" } as AnyNotification, fr), null);
  });
});
