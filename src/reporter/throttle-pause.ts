import { backoffMs } from "./backoff.ts";
import type { ReporterLogger } from "./logger.ts";

/**
 * The worker-wide pause after a 429: longer on every throttle in a row (backoff with jitter),
 * reset by any other answer. It also covers a process without a rate limiter (an emulator).
 */
export class ThrottlePause {
  private streak = 0;
  private until = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly bounds: { baseMs: number; maxMs: number },
    private readonly random: () => number,
    private readonly logger: ReporterLogger,
  ) {}

  /** Records one answer: a throttle extends the pause, anything else ends the streak. */
  record(throttled: boolean, rule: string): void {
    if (!throttled) {
      this.streak = 0;
      return;
    }
    // Throttles that land while already paused answer requests sent before the pause began (a
    // burst of `concurrency` sends): they are one signal, not a longer streak. Counting each one
    // would push a burst of 32 429s to the maximum backoff and stall reporting for minutes.
    if (Date.now() < this.until) return;
    this.streak++;
    this.until = Date.now() + backoffMs(this.streak, this.bounds, this.random);
    this.logger.warn({ streak: this.streak, rule }, "throttled by Stripe: pausing");
  }

  /** True while paused; then `resume` runs once when the pause ends. */
  holds(resume: () => void): boolean {
    const wait = this.until - Date.now();
    if (wait <= 0) return false;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      resume();
    }, wait);
    return true;
  }

  /** Cancels the pending resume (stop). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
