import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { Publication, publication } from "../src/publication.js";

// Node's own verdict on each test: an unhandled rejection would stop a real app.
let unhandled: unknown[] = [];
const record = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on("unhandledRejection", record);
});
afterEach(() => {
  process.off("unhandledRejection", record);
});

/** A few turns of the event loop: long enough for Node to notice an unhandled rejection. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function failing(reported: unknown[][], delay = 5): Publication<string> {
  const work = () => new Promise<string>((_, reject) => setTimeout(() => reject(new Error("boom")), delay));
  return publication(work, (error, subject) => reported.push([error, subject]), "the subject");
}

describe("publication", () => {
  it("hands a failure nobody awaits to onError, not to Node", async () => {
    const reported: unknown[][] = [];
    void failing(reported);
    await settle();
    assert.equal(reported.length, 1);
    assert.equal((reported[0]?.[0] as Error).message, "boom");
    assert.equal(reported[0]?.[1], "the subject");
    assert.deepEqual(unhandled, []);
  });

  it("gives the failure to a caller that awaits, and only to it", async () => {
    const reported: unknown[][] = [];
    await assert.rejects(failing(reported), /boom/);
    await assert.rejects(failing(reported, 0), /boom/);
    await failing(reported).catch(() => undefined);
    await Promise.allSettled([failing(reported)]);
    await settle();
    assert.deepEqual(reported, []);
    assert.deepEqual(unhandled, []);
  });

  it("also when the work fails at once", async () => {
    const reported: unknown[][] = [];
    const now = () => publication(() => Promise.reject(new TypeError("no tenant")), (e) => reported.push([e]), null);
    await assert.rejects(now(), TypeError);
    void now();
    await settle();
    assert.equal(reported.length, 1);
    assert.deepEqual(unhandled, []);
  });

  it("resolves with the work's value; its derived promises are plain ones", async () => {
    const done = publication(async () => 42, () => assert.fail("no error"), null);
    assert.ok(done instanceof Publication);
    assert.ok(!done.observed);
    const derived = done.then((value) => value + 1);
    assert.ok(done.observed);
    assert.equal(Object.getPrototypeOf(derived), Promise.prototype);
    assert.equal(await derived, 43);
  });

  it("survives an onError that throws", async () => {
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      void publication(() => Promise.reject(new Error("boom")), () => {
        throw new Error("bad handler");
      }, null);
      await settle();
    } finally {
      console.error = original;
    }
    assert.equal(errors.length, 1);
    assert.deepEqual(unhandled, []);
  });
});
