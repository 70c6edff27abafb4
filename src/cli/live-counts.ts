import cliProgress from "cli-progress";
import type { QueueStats } from "../ops/stats.ts";

/**
 * Live counts for the demo: a progress bar on a terminal, a plain line every few seconds when
 * the output is a file or a pipe (so logs stay readable).
 */
export class LiveCounts {
  private readonly bar: cliProgress.SingleBar | null;
  private lastLine = 0;

  constructor(durationS: number) {
    this.bar = process.stdout.isTTY
      ? new cliProgress.SingleBar(
          {
            format:
              "{bar} {elapsed}s/{duration}s | sent {sent} | reported {reported} | pending {pending} | dead-lettered {failed} {codes}",
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(durationS, 0, {
      duration: durationS,
      elapsed: 0,
      sent: 0,
      reported: 0,
      pending: 0,
      failed: 0,
      codes: "",
    });
  }

  /** Shows the latest counts. */
  update(sent: number, stats: QueueStats, elapsedS: number): void {
    const payload = {
      elapsed: Math.round(elapsedS),
      sent,
      reported: stats.reported,
      pending: stats.pending.total,
      failed: stats.failed,
      codes: codes(stats),
    };
    if (this.bar) {
      this.bar.update(Math.min(elapsedS, this.bar.getTotal()), payload);
    } else if (Date.now() - this.lastLine >= 2_000) {
      this.lastLine = Date.now();
      process.stdout.write(`${line(payload)}\n`);
    }
  }

  /** Ends the live display and prints the final counts. */
  stop(sent: number, stats: QueueStats): void {
    this.bar?.stop();
    process.stdout.write(
      `\nFinal: sent ${sent} | reported ${stats.reported} | pending ${stats.pending.total} | dead-lettered ${stats.failed} ${codes(stats)}\n`,
    );
  }
}

function codes(stats: QueueStats): string {
  const entries = Object.entries(stats.failed_by_code);
  return entries.length ? `(${entries.map(([c, n]) => `${c}: ${n}`).join(", ")})` : "";
}

function line(p: {
  elapsed: number;
  sent: number;
  reported: number;
  pending: number;
  failed: number;
  codes: string;
}): string {
  return `${p.elapsed}s | sent ${p.sent} | reported ${p.reported} | pending ${p.pending} | dead-lettered ${p.failed} ${p.codes}`;
}
