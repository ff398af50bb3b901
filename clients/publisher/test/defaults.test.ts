import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as tocsin from "../src/index.js";

const system = { title: "Maintenance", message: "2am", type: "warning" as const };

describe("module-level helpers", () => {
  it("are the seed's names", () => {
    for (const name of [
      "emitToUser",
      "emitToTenant",
      "emitToAll",
      "notifyEmailReceived",
      "notifyDossierUpdated",
      "notifyDeadlineAlert",
      "notifySystem",
    ] as const) {
      assert.equal(typeof tocsin[name], "function", name);
    }
  });

  // In this order: the default publisher is made once, at the first call that can make one.
  it("reject, without throwing, until TOCSIN_URL and TOCSIN_API_KEY are set", async () => {
    delete process.env.TOCSIN_URL;
    delete process.env.TOCSIN_API_KEY;
    const pending = tocsin.notifySystem(system);
    assert.ok(pending instanceof tocsin.Publication);
    await assert.rejects(pending, /set TOCSIN_URL and TOCSIN_API_KEY/);
  });

  it("use the publisher made from the environment", () => {
    process.env.TOCSIN_URL = "http://127.0.0.1:1";
    process.env.TOCSIN_API_KEY = "tsk_env";
    const first = tocsin.defaultPublisher();
    assert.equal(tocsin.defaultPublisher(), first);
  });

  it("use the publisher given to configure", async () => {
    const sent: unknown[] = [];
    tocsin.configure({
      url: "http://tocsin.test",
      apiKey: "k",
      fetch: async (_url, init) => {
        sent.push(JSON.parse(String(init.body)));
        return new Response(JSON.stringify({ id: "n1", cursor: 1 }), { status: 202 });
      },
    });
    await tocsin.emitToTenant("t1", "system-notification", system);
    assert.deepEqual(sent, [{ ...system, event: "system-notification", tenantId: "t1" }]);
  });
});

// Compiled by `npm run typecheck`, never run: the seed's calls as its app writes them.
export function seedCalls(email: { id: string; subject: string; from: string; userId: string; tenantId: string }) {
  tocsin.notifyEmailReceived({ ...email, dossierNumber: "D-1", timestamp: new Date() });
  tocsin.notifyDossierUpdated({
    id: 7, dossierNumber: "D-1", dossierTitle: "Martin - OQTF", action: "updated",
    userId: "u1", tenantId: "t1", timestamp: new Date(),
  });
  tocsin.notifyDeadlineAlert({
    id: "deadline-7", dossierNumber: "D-1", message: "Délai critique dans 1 jours",
    urgency: "critical", deadlineType: "OQTF", remainingDays: 1, userId: "u1", tenantId: "t1",
    timestamp: new Date(),
  });
  tocsin.emitToUser("u1", "email-received", email);
  tocsin.emitToTenant("t1", "system-notification", { title: "Maintenance", message: "2am", type: "warning" });
  tocsin.emitToAll("system-notification", { title: "Update", message: "New", type: "success" });
  // @ts-expect-error: not one of the seed's actions
  tocsin.notifyDossierUpdated({ dossierNumber: "D", dossierTitle: "T", action: "archived", userId: "u", tenantId: "t" });
  // @ts-expect-error: a misspelt field, as the server would refuse it
  tocsin.notifySystem({ title: "T", message: "m", type: "info", titel: "T" });
  // @ts-expect-error: only a system notification may go to everyone
  tocsin.emitToAll("email-received", { subject: "s", from: "f" });
}
