// Builds with esbuild: `lib` (the npm package, into dist/; `tsc -p tsconfig.lib.json` adds the
// declarations) or `tests` (the unit tests, into .test-build/ for `node --test`).
import { build } from "esbuild";
import { readdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const target = process.argv[2] ?? "lib";

async function lib() {
  const out = process.env.TOCSIN_LIB_OUT ?? join(here, "dist");
  await rm(out, { recursive: true, force: true });
  await build({
    entryPoints: [join(here, "src/index.ts")],
    outdir: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: ["node18"],
    sourcemap: true,
    logLevel: "warning",
  });
  console.log(`built the library into ${out}`);
}

async function tests() {
  const dir = join(here, "test");
  const entries = (await readdir(dir)).filter((name) => name.endsWith(".test.ts")).map((name) => join(dir, name));
  const out = join(here, ".test-build");
  await rm(out, { recursive: true, force: true });
  await build({
    entryPoints: entries,
    outdir: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: ["node18"],
    packages: "external",
    sourcemap: "inline",
    logLevel: "warning",
  });
}

const builders = { lib, tests };
if (!(target in builders)) {
  console.error(`unknown target ${target}: lib or tests`);
  process.exit(2);
}
await builders[target]();
