import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { messages, plural } from "../src/core/i18n.js";
import type { AnyNotification } from "../src/core/types.js";
import { describeItem } from "../src/react/describe.js";
import { placePanel } from "../src/react/placement.js";

const fr = messages("fr");
const en = messages("en");

describe("plural", () => {
  it("follows each language's rules: French 0 and 1 singular, English 1 only", () => {
    const days = { one: "# jour", other: "# jours" };
    assert.deepEqual([0, 1, 2, 10].map((n) => plural("fr", n, days)), ["0 jour", "1 jour", "2 jours", "10 jours"]);
    const enDays = { one: "# day", other: "# days" };
    assert.deepEqual([0, 1, 2].map((n) => plural("en", n, enDays)), ["0 days", "1 day", "2 days"]);
  });

  it("uses `many` when the language has it, else `other`", () => {
    // French puts round millions in their own category (« 1 000 000 de jours »).
    assert.equal(plural("fr", 1_000_000, { one: "# jour", other: "# jours", many: "# de jours" }), "1000000 de jours");
    assert.equal(plural("fr", 1_000_000, { one: "# jour", other: "# jours" }), "1000000 jours");
  });
});

describe("counted texts", () => {
  it("never write « (s) » and agree with their number", () => {
    const samples = [0, 1, 2, 5, 21];
    const texts = samples.flatMap((n) => [
      fr.unread(n),
      en.unread(n),
      fr.connectedClients(n),
      en.connectedClients(n),
      fr.remaining(n),
      fr.remaining(-n),
      en.remaining(n),
      en.remaining(-n),
      ...Object.values(fr.counts).map((label) => label(n)),
      ...Object.values(en.counts).map((label) => label(n)),
    ]);
    for (const text of texts) assert.doesNotMatch(text, /\(s\)| [jd]$/, text);
  });

  it("the bell and tab counts", () => {
    assert.deepEqual([0, 1, 2].map(fr.unread), ["aucune non lue", "1 non lue", "2 non lues"]);
    assert.deepEqual([0, 1, 2].map(en.unread), ["none unread", "1 unread", "2 unread"]);
    assert.equal(fr.unreadItem, "non lue");
    assert.equal(en.unreadItem, "unread");
  });

  it("connections", () => {
    assert.deepEqual([0, 1, 2].map(fr.connectedClients), ["0 connexion", "1 connexion", "2 connexions"]);
    assert.deepEqual([0, 1, 2].map(en.connectedClients), ["0 connections", "1 connection", "2 connections"]);
  });

  it("days left and overdue", () => {
    assert.deepEqual([3, 2, 1, 0, -1, -4].map(fr.remaining), [
      "3 jours restants",
      "2 jours restants",
      "1 jour restant",
      "expire aujourd'hui",
      "expiré depuis 1 jour",
      "expiré depuis 4 jours",
    ]);
    assert.deepEqual([2, 1, 0, -1, -4].map(en.remaining), [
      "2 days left",
      "1 day left",
      "due today",
      "overdue by 1 day",
      "overdue by 4 days",
    ]);
  });

  it("labels of figures shown beside their number", () => {
    assert.deepEqual([1, 2].map(fr.counts.deadlineAlerts), ["alerte de délai", "alertes de délai"]);
    assert.deepEqual([1, 2].map(fr.counts.connections), ["connexion du cabinet", "connexions du cabinet"]);
    assert.deepEqual([0, 1, 2].map(fr.counts.unread), ["non lue", "non lue", "non lues"]);
    assert.deepEqual([1, 2].map(fr.counts.emails), ["e-mail", "e-mails"]);
    assert.deepEqual([0, 1, 2].map(en.counts.deadlineAlerts), ["deadline alerts", "deadline alert", "deadline alerts"]);
    assert.deepEqual([1, 2].map(en.counts.connections), ["connection in the firm", "connections in the firm"]);
  });
});

describe("describeItem", () => {
  const alert = (deadlineType: string, remainingDays: number) =>
    ({
      event: "deadline-alert",
      id: "d1",
      dossierNumber: "D-2026-021",
      message: "Délai de signification expire dans 1 jour",
      urgency: "critical",
      deadlineType,
      remainingDays,
      userId: "u",
      tenantId: "t",
      timestamp: "2026-01-07T09:00:00.000Z",
      cursor: 1,
      read: false,
    }) as AnyNotification;

  it("heads a deadline's line with its type, then the days in words", () => {
    assert.equal(describeItem(alert("signification", 1), fr).meta, "Signification · 1 jour restant");
    assert.equal(describeItem(alert("OQTF", 2), fr).meta, "OQTF · 2 jours restants");
    assert.equal(describeItem(alert("appel", -1), en).meta, "Appel · overdue by 1 day");
    assert.equal(describeItem(alert("signification", 1), fr).title, "Délai de signification expire dans 1 jour");
  });
});

describe("placePanel", () => {
  it("right-aligns a full-width panel under a bell with room on its left", () => {
    assert.deepEqual(placePanel({ left: 1100, right: 1256, bottom: 52 }, 1280, 800), {
      width: 460,
      left: 1256 - 460 - 1100,
      maxHeight: 600,
    });
  });

  it("keeps 8 px from the viewport's edges on a phone, wherever the bell is", () => {
    for (const root of [
      { left: 300, right: 390, bottom: 60 }, // at the right edge
      { left: 330, right: 460, bottom: 60 }, // pushed out of the viewport
      { left: 10, right: 50, bottom: 60 }, // at the left edge
    ]) {
      const placed = placePanel(root, 390, 844);
      assert.equal(placed.width, 374);
      assert.equal(root.left + placed.left, 8, JSON.stringify(root));
      assert.equal(placed.maxHeight, 600);
    }
    const small = placePanel({ left: 250, right: 320, bottom: 60 }, 320, 480);
    assert.equal(small.width, 304);
    assert.equal(small.maxHeight, 480 - 68 - 8);
  });

  it("never makes the panel shorter than a few items (the page scrolls instead)", () => {
    assert.equal(placePanel({ left: 0, right: 300, bottom: 300 }, 320, 360).maxHeight, 240);
  });
});
