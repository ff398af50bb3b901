import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { TocsinApiError, TocsinNetworkError, createPublisher, type Fetch } from "../src/index.js";
import { VERSION } from "../src/http.js";

// The `fetch` seam with scripted answers: the real server's side is tested from Python
// (tests/integration/test_ts_publisher.py); these cover what a server cannot be made to do.
interface Sent {
  url: string;
  headers: Record<string, string>;
  body: any;
}

type Step = Response | Error | "hang";

function scripted(steps: Step[]): { fetch: Fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: Fetch = async (url, init) => {
    sent.push({ url, headers: init.headers as Record<string, string>, body: JSON.parse(String(init.body)) });
    const step = steps.shift() ?? assert.fail("more requests than scripted");
    if (step === "hang") {
      return new Promise((_, reject) => {
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
      });
    }
    if (step instanceof Error) throw step;
    return step;
  };
  return { fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const stored = (id = "n1", cursor = 7, headers: Record<string, string> = {}) => json(202, { id, cursor }, headers);

const options = (fetch: Fetch) => ({
  url: "http://tocsin.test:8000/",
  apiKey: "tsk_key",
  backoffMs: 0,
  fetch,
  onError: (error: unknown) => assert.fail(`unexpected onError: ${String(error)}`),
});

const dossier = {
  id: 12,
  dossierNumber: "D-2026-007",
  dossierTitle: "Martin - OQTF",
  action: "updated" as const,
  userId: "u1",
  tenantId: "t1",
  timestamp: new Date("2026-01-07T09:30:00Z"),
};

describe("publish", () => {
  it("posts the payload with its event, a Date as ISO 8601, the key and the API key", async () => {
    const { fetch, sent } = scripted([stored()]);
    const result = await createPublisher(options(fetch)).notifyDossierUpdated(dossier);
    assert.deepEqual(result, { id: "n1", cursor: 7, replayed: false });
    const [request] = sent;
    assert.equal(request?.url, "http://tocsin.test:8000/api/v1/notifications");
    assert.deepEqual(request?.body, { ...dossier, timestamp: "2026-01-07T09:30:00.000Z", event: "dossier-updated" });
    assert.equal(request?.headers.Authorization, "Bearer tsk_key");
    assert.equal(request?.headers["User-Agent"], `tocsin-node/${VERSION}`);
    assert.match(request?.headers["Idempotency-Key"] ?? "", /^[0-9a-f-]{36}$/);
  });

  it("gives each call its own key, and the caller's when it names one", async () => {
    const { fetch, sent } = scripted([stored(), stored(), stored()]);
    const tocsin = createPublisher(options(fetch));
    await tocsin.notifyDossierUpdated(dossier);
    await tocsin.notifyDossierUpdated(dossier);
    await tocsin.publish({ ...dossier, event: "dossier-updated" }, { idempotencyKey: "mine" });
    const keys = sent.map((request) => request.headers["Idempotency-Key"]);
    assert.notEqual(keys[0], keys[1]);
    assert.equal(keys[2], "mine");
  });

  it("says when Tocsin answered a repeat", async () => {
    const { fetch } = scripted([stored("n1", 7, { "Idempotent-Replayed": "true" })]);
    const result = await createPublisher(options(fetch)).notifyDossierUpdated(dossier);
    assert.equal(result.replayed, true);
  });

  it("refuses a Date that is not one before sending", async () => {
    const { fetch, sent } = scripted([]);
    await assert.rejects(
      createPublisher(options(fetch)).notifyDossierUpdated({ ...dossier, timestamp: new Date("nope") }),
      RangeError,
    );
    assert.equal(sent.length, 0);
  });
});

describe("retries", () => {
  it("retries network errors, timeouts, 429 and 5xx with the same key", async () => {
    const { fetch, sent } = scripted([
      new TypeError("fetch failed"),
      "hang",
      json(429, { error: "rate_limited" }, { "Retry-After": "0" }),
      json(503, { error: "store_unavailable" }, { "Retry-After": "0" }),
      new Response("bad gateway", { status: 502 }),
      stored(),
    ]);
    const tocsin = createPublisher({ ...options(fetch), retries: 5, timeoutMs: 50 });
    assert.deepEqual(await tocsin.notifyDossierUpdated(dossier), { id: "n1", cursor: 7, replayed: false });
    assert.equal(sent.length, 6);
    assert.equal(new Set(sent.map((request) => request.headers["Idempotency-Key"])).size, 1);
  });

  it("waits as long as Retry-After says", async () => {
    const { fetch } = scripted([json(503, { error: "store_unavailable" }, { "Retry-After": "0.3" }), stored()]);
    const started = performance.now();
    await createPublisher(options(fetch)).notifyDossierUpdated(dossier);
    assert.ok(performance.now() - started >= 290, "answered before Retry-After");
  });

  it("gives up after `retries`: the last answer, or a TocsinNetworkError with its cause", async () => {
    const busy = scripted([json(503, { error: "store_unavailable", message: "down" }), json(503, { error: "store_unavailable", message: "down" })]);
    await assert.rejects(createPublisher({ ...options(busy.fetch), retries: 1 }).notifyDossierUpdated(dossier), {
      name: "TocsinApiError",
      status: 503,
      code: "store_unavailable",
    });
    assert.equal(busy.sent.length, 2);

    const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    const down = scripted([refused, refused, refused]);
    const error = await createPublisher({ ...options(down.fetch), retries: 2 })
      .notifyDossierUpdated(dossier)
      .then(() => assert.fail("published"), (failure: unknown) => failure);
    assert.ok(error instanceof TocsinNetworkError);
    assert.equal(error.attempts, 3);
    assert.equal(error.cause, refused);
    assert.match(error.message, /ECONNREFUSED/);
  });

  for (const [status, code] of [
    [400, "invalid_json"],
    [401, "unauthorized"],
    [403, "forbidden"],
    [409, "idempotency_key_reused"],
    [413, "payload_too_large"],
    [422, "validation_error"],
  ] as const) {
    it(`does not retry a ${status}`, async () => {
      const { fetch, sent } = scripted([json(status, { error: code, message: "no", field: "timestamp" })]);
      const error = await createPublisher(options(fetch))
        .notifyDossierUpdated(dossier)
        .then(() => assert.fail("published"), (failure: unknown) => failure);
      assert.ok(error instanceof TocsinApiError);
      assert.deepEqual([error.status, error.code, error.message, error.field], [status, code, "no", "timestamp"]);
      assert.equal(sent.length, 1);
    });
  }

  it("describes an answer that is not Tocsin's", async () => {
    const { fetch } = scripted([new Response("<h1>Forbidden</h1>", { status: 403, statusText: "Forbidden" })]);
    await assert.rejects(createPublisher(options(fetch)).notifyDossierUpdated(dossier), {
      status: 403,
      code: "http_403",
      message: "<h1>Forbidden</h1>",
      field: null,
    });
  });
});

describe("helpers", () => {
  const system = { title: "Maintenance", message: "2am", type: "warning" as const };

  it("route as the seed's: user, tenant, everyone", async () => {
    const { fetch, sent } = scripted([stored(), stored(), stored(), stored()]);
    const tocsin = createPublisher(options(fetch));
    await tocsin.emitToUser("u1", "system-notification", { ...system, tenantId: "t1" });
    await tocsin.emitToUser("u2", "system-notification", system, { tenantId: "t2" });
    await tocsin.emitToTenant("t1", "system-notification", { ...system, userId: "dropped" });
    await tocsin.emitToAll("system-notification", { ...system, userId: "x", tenantId: "y" });
    assert.deepEqual(
      sent.map((request) => [request.body.event, request.body.userId, request.body.tenantId]),
      [
        ["system-notification", "u1", "t1"],
        ["system-notification", "u2", "t2"],
        ["system-notification", undefined, "t1"],
        ["system-notification", undefined, undefined],
      ],
    );
  });

  it("name their events", async () => {
    const { fetch, sent } = scripted([stored(), stored(), stored()]);
    const tocsin = createPublisher(options(fetch));
    const user = { userId: "u1", tenantId: "t1" };
    await tocsin.notifyEmailReceived({ subject: "s", from: "f", ...user });
    await tocsin.notifyDeadlineAlert({
      dossierNumber: "D", message: "m", urgency: "critical", deadlineType: "OQTF", remainingDays: 1, ...user,
    });
    await tocsin.notifySystem(system);
    assert.deepEqual(sent.map((request) => request.body.event), ["email-received", "deadline-alert", "system-notification"]);
  });

  it("emitToUser without a tenant fails through its promise, sending nothing", async () => {
    const { fetch, sent } = scripted([]);
    const reported: unknown[] = [];
    const tocsin = createPublisher({ ...options(fetch), onError: (error) => reported.push(error) });
    await assert.rejects(tocsin.emitToUser("u1", "system-notification", system), /needs the user's tenant/);
    void tocsin.emitToUser("u1", "system-notification", system);
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(reported.length, 1);
    assert.equal(sent.length, 0);
  });

  it("publishBatch sends one request and returns each result", async () => {
    const results = [{ id: "n1", cursor: 1 }, { status: 422, error: "validation_error", message: "no", field: "action" }];
    const { fetch, sent } = scripted([json(200, { results })]);
    const answer = await createPublisher(options(fetch)).publishBatch([
      { ...dossier, event: "dossier-updated" },
      { ...dossier, event: "dossier-updated" },
    ]);
    assert.deepEqual(answer, results);
    assert.equal(sent[0]?.url, "http://tocsin.test:8000/api/v1/notifications/batch");
    assert.equal(sent[0]?.body.notifications.length, 2);
  });
});

describe("createPublisher", () => {
  it("checks its options at once", () => {
    assert.throws(() => createPublisher({ url: "localhost:8000", apiKey: "k" }), /url/);
    assert.throws(() => createPublisher({ url: "ftp://x", apiKey: "k" }), /url: http or https/);
    assert.throws(() => createPublisher({ url: "http://x", apiKey: "" }), /apiKey/);
    assert.throws(() => createPublisher({ url: "http://x", apiKey: "k", retries: -1 }), /retries/);
  });

  it("keeps a path under which Tocsin is mounted", async () => {
    const { fetch, sent } = scripted([stored()]);
    await createPublisher({ ...options(fetch), url: "https://app.test/tocsin/" }).notifyDossierUpdated(dossier);
    assert.equal(sent[0]?.url, "https://app.test/tocsin/api/v1/notifications");
  });

  it("reports the version of its package.json", () => {
    const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    assert.equal(VERSION, manifest.version);
  });
});
