import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

// The tests run from the package's folder (`npm test`).
const packageDir = process.cwd();

describe("the package", () => {
  it("has no runtime dependencies: the build imports Node's built-ins only", () => {
    const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8"));
    assert.equal(manifest.dependencies, undefined);
    assert.equal(manifest.peerDependencies, undefined);
    const out = mkdtempSync(join(tmpdir(), "tocsin-publisher-"));
    try {
      execFileSync(process.execPath, [join(packageDir, "scripts/build.mjs"), "lib"], {
        env: { ...process.env, TOCSIN_LIB_OUT: out },
        stdio: "pipe",
      });
      const code = readFileSync(join(out, "index.js"), "utf8");
      const imported = [...code.matchAll(/(?:from|import\()\s*["']([^"']+)["']/g)].map((match) => match[1]);
      assert.deepEqual(imported, ["node:crypto"]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
