import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

// The tests run from the package's folder (`npm test`).
const packageDir = process.cwd();

describe("the library build", () => {
  it("marks the React entry, and only it, as client code for Server Components", () => {
    const out = mkdtempSync(join(tmpdir(), "tocsin-lib-"));
    try {
      execFileSync(process.execPath, [join(packageDir, "scripts/build.mjs"), "lib"], {
        env: { ...process.env, TOCSIN_LIB_OUT: out },
        stdio: "pipe",
      });
      const react = readFileSync(join(out, "react/index.js"), "utf8");
      const core = readFileSync(join(out, "index.js"), "utf8");
      assert.ok(react.startsWith('"use client";\n'), react.slice(0, 80));
      assert.ok(!core.includes('"use client"'), "the framework-free core may run on a server");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
