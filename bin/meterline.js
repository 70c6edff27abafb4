#!/usr/bin/env node
// Runs the compiled CLI in dist/: plain JavaScript, no TypeScript loader, no source maps at run
// time. dist/ is built by `npm run build` (`npm ci` runs it); in a checkout with TypeScript
// installed, an edited source is compiled here first (scripts/build.js), so what runs is always
// the current code. `npm run dev -- <command>` runs the sources through tsx instead.
import { ensureBuilt } from "../scripts/build.js";

let problem;
try {
  problem = ensureBuilt();
} catch (err) {
  problem = `the build failed: ${err instanceof Error ? err.message : err}`;
}
if (problem !== null) {
  process.stderr.write(`meterline: ${problem}\n`);
  process.exit(1);
}
await import("../dist/cli/main.js");
