import { setFlagsFromString } from "node:v8";

/** How far V8's old generation may grow past what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Bounds how much garbage a long-running process keeps before V8 collects its old generation.
 * By default V8 lets the old generation grow to up to four times what survived the last full
 * collection when collecting is cheap. A worker at the v1 rate limit promotes about 12 MB/s of
 * request objects that die soon after, while only about 22 MB stays live: its peak RSS then
 * depended on when the next full collection came, 120 to 171 MiB between runs of the bench's
 * backlog table. At 50 % the full collections come every second or two (5 to 10 ms each) and the
 * peak stayed at 122 MiB. V8 reads this flag each time it sets the next limit, so setting it at
 * start-up holds for the process's life; a value given on node's command line is kept.
 */
export function boundHeapGrowth(): void {
  if (process.execArgv.some((a) => /^--heap[-_]growing[-_]percent/.test(a))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
