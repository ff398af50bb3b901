// Builds with esbuild: `page` (the page Tocsin serves, into src/tocsin/web/), `lib` (the npm
// package, into dist/) or `tests` (the unit tests, into .test-build/ for `node --test`).
// `page` and `lib` also build the service worker, `tocsin-sw.js`.
import { build } from "esbuild";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const target = process.argv[2] ?? "page";

// The service worker is one classic script with nothing left to import: browsers register
// it as it is, and an app's own worker can pull it in with importScripts().
const SERVICE_WORKER = "tocsin-sw";

async function serviceWorker(outdir, { minify }) {
  await build({
    entryPoints: { [SERVICE_WORKER]: join(here, "src/sw/worker.ts") },
    outdir,
    bundle: true,
    minify,
    format: "iife",
    target: ["es2020"],
    sourcemap: false, // one file to copy
    legalComments: "none",
    logLevel: "warning",
  });
}

async function page() {
  const out = process.env.TOCSIN_WEB_OUT ?? resolve(here, "../../src/tocsin/web");
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, "assets"), { recursive: true });
  await build({
    entryPoints: { app: join(here, "src/page/main.tsx"), page: join(here, "src/page/page.css") },
    outdir: join(out, "assets"),
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2020"],
    jsx: "automatic",
    sourcemap: false, // keeps the wheel small; `npm run build:lib` has maps
    legalComments: "linked",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  await serviceWorker(join(out, "assets"), { minify: true }); // served at /tocsin-sw.js
  await copyFile(join(here, "src/page/index.html"), join(out, "index.html"));
  console.log(`built the page into ${out}`);
}

// The React entry's hook and component run in the browser: a Next.js Server Component (the
// seed renders <NotificationCenter/> from layout.tsx) may import them only through a module
// that says so. esbuild drops a module's directives when it bundles, so it is written here.
const CLIENT_DIRECTIVE = '"use client";\n';

async function lib() {
  const out = process.env.TOCSIN_LIB_OUT ?? join(here, "dist");
  await rm(out, { recursive: true, force: true });
  await build({
    entryPoints: [join(here, "src/index.ts"), join(here, "src/react/index.ts"), join(here, "src/sw/index.ts")],
    outdir: out,
    outbase: join(here, "src"),
    bundle: true,
    splitting: true,
    format: "esm",
    target: ["es2020"],
    jsx: "automatic",
    sourcemap: true,
    external: ["react", "react/jsx-runtime", "socket.io-client"],
    logLevel: "warning",
  });
  await serviceWorker(out, { minify: false });
  const react = join(out, "react/index.js");
  await writeFile(react, CLIENT_DIRECTIVE + (await readFile(react, "utf8")));
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

const builders = { page, lib, tests };
if (!(target in builders)) {
  console.error(`unknown target ${target}: page, lib or tests`);
  process.exit(2);
}
await builders[target]();
