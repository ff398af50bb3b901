import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { MAX_RETRY_DELAY_MS, isRetryableStatus, parseRetryAfter, retryDelay } from "../src/retry.js";

describe("retryDelay", () => {
  it("doubles from backoffMs, ± 30 %", () => {
    assert.equal(retryDelay(0, 200, null, () => 0.5), 200);
    assert.equal(retryDelay(2, 200, null, () => 0.5), 800);
    assert.equal(Math.round(retryDelay(1, 200, null, () => 0)), 280);
    assert.equal(Math.round(retryDelay(1, 200, null, () => 1)), 520);
  });

  it("takes the server's Retry-After as it is, within 0..30 s", () => {
    assert.equal(retryDelay(5, 200, 1500, () => 0), 1500);
    assert.equal(retryDelay(0, 200, -3000), 0);
    assert.equal(retryDelay(0, 200, 3_600_000), MAX_RETRY_DELAY_MS);
    assert.equal(retryDelay(20, 200, null, () => 1), MAX_RETRY_DELAY_MS);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    assert.equal(parseRetryAfter("2"), 2000);
    assert.equal(parseRetryAfter(" 0.5 "), 500);
    const now = Date.parse("2026-01-07T09:00:00Z");
    assert.equal(parseRetryAfter("Wed, 07 Jan 2026 09:00:03 GMT", now), 3000);
  });

  it("ignores what it cannot read", () => {
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter("soon"), null);
    assert.equal(parseRetryAfter("-1"), null);
  });
});

describe("isRetryableStatus", () => {
  it("retries overload and server errors, never a refusal", () => {
    for (const status of [429, 500, 502, 503, 504]) assert.ok(isRetryableStatus(status), String(status));
    for (const status of [400, 401, 403, 404, 409, 413, 415, 422]) assert.ok(!isRetryableStatus(status), String(status));
  });
});
