import cliProgress from "cli-progress";
import type { ProgressSnapshot } from "./chaos.ts";

/** Shows a run's progress. */
export interface Progress {
  update(snapshot: ProgressSnapshot): void;
  stop(): void;
}

/** How often a plain line is printed when the output is not a terminal. */
const LINE_EVERY_MS = 5_000;

/**
 * A progress bar on a terminal; a plain line every few seconds otherwise, so a log file or a CI
 * transcript stays readable.
 */
export function createProgress(out: NodeJS.WriteStream = process.stdout): Progress {
  if (!out.isTTY) {
    let last = 0;
    return {
      update(s) {
        if (Date.now() - last < LINE_EVERY_MS) return;
        last = Date.now();
        out.write(`${line(s)}\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: out,
      format: "{bar} {value}/{total} final | {status}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(s) {
      const final = finalCount(s);
      if (!started) {
        bar.start(s.total, final, { status: status(s) });
        started = true;
      }
      bar.setTotal(s.total);
      bar.update(final, { status: status(s) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function finalCount(s: ProgressSnapshot): number {
  return s.counts.reported + s.counts.failed + s.counts.discarded;
}

function status(s: ProgressSnapshot): string {
  const c = s.counts;
  return [
    `${s.phase} phase`,
    `reported ${c.reported}`,
    `failed ${c.failed}`,
    `pending ${c.pending}`,
    `kills ${s.kills}`,
    `freezes ${s.freezes}`,
    `${Math.round(s.elapsedMs / 1000)} s`,
  ].join(" | ");
}

function line(s: ProgressSnapshot): string {
  return `${finalCount(s)}/${s.total} final | ${status(s)}`;
}
