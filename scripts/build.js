#!/usr/bin/env node
// Compiles src/ into dist/ (tsconfig.build.json): the JavaScript that bin/meterline.js runs.
//
//   node scripts/build.js             rebuild (npm run build; npm ci runs it as `prepare`)
//   node scripts/build.js --if-stale  rebuild only when dist/ is missing or older than src/
//
// bin/meterline.js calls ensureBuilt() before it starts: in a checkout with the compiler
// installed, an edited source is compiled before it runs, so no command, test or benchmark
// can run yesterday's dist/ by mistake. Where the compiler is not installed (dev dependencies
// omitted), dist/ runs as it is.
//
// Plain JavaScript on purpose: it runs before anything is compiled, and without tsx. Type
// checking is not its job (`npm run typecheck`, `npm test`): it only emits (--noCheck), which
// costs a few seconds of CPU (about 3 s on this project's 2-core machine).
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
/**
 * Written last, so its presence says the build finished; dated when the build started, so a
 * source saved while tsc was reading it still counts as newer.
 */
const stamp = join(dist, ".build-stamp");
/** What the output depends on: a change to any of them makes dist/ stale. */
const inputs = ["src", "tsconfig.json", "tsconfig.build.json", "scripts/build.js"];
/** Folders of src/ that tsc does not compile but the build must ship: the dashboard's page. */
const ASSETS = ["dashboard/static"];
/** Held while one process builds, so processes started together build once. */
const lock = join(root, "dist.lock");
/** A build takes seconds; a lock older than this with no live holder is left over from a crash. */
const LOCK_WAIT_MS = 300_000;

/** Newest modification time (ms) of a file, or of anything under a folder. */
function newest(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let max = s.mtimeMs; // a deleted file shows only in its folder's time
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** Whether dist/ is missing, unfinished, or older than one of its inputs. */
export function isStale() {
  if (!existsSync(stamp)) return true;
  const built = statSync(stamp).mtimeMs;
  return inputs.some((input) => existsSync(join(root, input)) && newest(join(root, input)) > built);
}

/** The TypeScript compiler's entry, or null where dev dependencies were not installed. */
function compiler() {
  try {
    // Its package exports no bin/ path: find the package, then its documented bin entry.
    const pkg = createRequire(join(root, "package.json")).resolve("typescript/package.json");
    return join(dirname(pkg), "bin", "tsc");
  } catch {
    return null;
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Whether the process that took the lock is gone (a crash mid-build), so the lock can go. */
function holderGone() {
  try {
    const pid = Number(readFileSync(join(lock, "pid"), "utf8"));
    process.kill(pid, 0);
    return false;
  } catch (err) {
    if (err.code === "ESRCH") return true;
    // No pid file yet: the holder is between mkdir and write, unless that was long ago.
    if (err.code === "ENOENT") {
      try {
        return Date.now() - statSync(lock).mtimeMs > 10_000;
      } catch {
        return false; // the lock went away meanwhile: try again
      }
    }
    return false; // EPERM: alive, someone else's
  }
}

/** Runs `fn` holding the build lock (a folder: mkdir is atomic). */
function withLock(fn) {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      if (holderGone()) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`another build has held ${lock} for ${LOCK_WAIT_MS / 1000} s`);
      }
      sleepSync(100);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Compiles into a fresh folder and swaps it in, so nobody ever loads a half-written dist/. */
function compile(tsc) {
  const started = new Date();
  const next = join(root, `dist.next-${process.pid}`);
  rmSync(next, { recursive: true, force: true });
  const run = spawnSync(
    process.execPath,
    [tsc, "-p", join(root, "tsconfig.build.json"), "--noCheck", "--outDir", next],
    { stdio: ["ignore", 2, 2] }, // diagnostics to stderr: stdout is the command's
  );
  if (run.status !== 0) {
    rmSync(next, { recursive: true, force: true });
    throw new Error(`tsc -p tsconfig.build.json failed (exit ${run.status ?? run.signal})`);
  }
  for (const folder of ASSETS) {
    const from = join(root, "src", folder);
    if (existsSync(from)) cpSync(from, join(next, folder), { recursive: true });
  }
  const nextStamp = join(next, ".build-stamp");
  writeFileSync(nextStamp, `${started.toISOString()}\n`);
  utimesSync(nextStamp, started, started);
  const old = join(root, `dist.old-${process.pid}`);
  if (existsSync(dist)) renameSync(dist, old);
  renameSync(next, dist);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Builds dist/ (always, or with `ifStale` only when it is stale). Returns null when dist/ is
 * ready to run, or a message saying why it is not.
 */
export function build({ ifStale }) {
  const tsc = compiler();
  if (tsc === null) {
    // Dev dependencies omitted (a production install): run what was built, if anything was,
    // without even walking src/.
    return existsSync(stamp)
      ? null
      : "dist/ is missing and TypeScript is not installed: run `npm ci` (with dev dependencies), then `npm run build`";
  }
  if (ifStale && !isStale()) return null;
  withLock(() => {
    // Whoever held the lock before may have just built what this process came to build.
    if (!ifStale || isStale()) compile(tsc);
  });
  return null;
}

/** For bin/meterline.js: makes sure dist/ holds the current sources, compiled. */
export function ensureBuilt() {
  return build({ ifStale: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const problem = build({ ifStale: process.argv.includes("--if-stale") });
    if (problem !== null) {
      process.stderr.write(`meterline build: ${problem}\n`);
      process.exitCode = 1;
    }
  } catch (err) {
    process.stderr.write(`meterline build: ${err instanceof Error ? err.message : err}\n`);
    process.exitCode = 1;
  }
}
