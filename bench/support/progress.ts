/**
 * Progress on stderr, so stdout carries only the tables (`npm run bench > results.md` works).
 * A live bar on a terminal (cli-progress); plain start/finish lines otherwise, so a log file
 * is not flooded with redraws.
 */
import cliProgress from "cli-progress";

/** One phase of a benchmark with a known amount of work. */
export interface Phase {
  /** Sets how much is done (and optionally a new total). */
  update(done: number, total?: number): void;
  /** Ends the phase, with a one-line summary. */
  finish(summary?: string): void;
}

const tty = process.stderr.isTTY === true;

/** A line on stderr, between bars. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Starts a phase: a bar on a terminal, a line elsewhere. */
export function phase(label: string, total: number): Phase {
  const started = Date.now();
  if (!tty) {
    say(`… ${label}`);
    return {
      update() {},
      finish(summary) {
        say(
          `✓ ${label}${summary ? `: ${summary}` : ""} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        );
      },
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(44)} {bar} {value}/{total} {duration}s`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, total), 0);
  return {
    update(done, newTotal) {
      if (newTotal !== undefined) bar.setTotal(Math.max(1, newTotal));
      bar.update(done);
    },
    finish(summary) {
      bar.stop();
      say(
        `✓ ${label}${summary ? `: ${summary}` : ""} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
    },
  };
}
