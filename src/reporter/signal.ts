/** One sleeper: woken by its timer, or by a fire() its condition (if any) lets through. */
interface Waiter {
  done(): void;
  ready: (() => boolean) | undefined;
}

/**
 * A wake-up call for sleeping loops: `wait(ms)` resolves after `ms` or at the next `fire()`,
 * whichever comes first. Used so that stop() and a halt interrupt a poll sleep at once.
 */
export class Signal {
  private readonly waiters = new Set<Waiter>();

  /**
   * Resolves after `ms`, or earlier at a fire() when `ready` (if given) then holds. A loop that
   * waits for a condition passes it here rather than waking at every fire() to test it: the
   * worker's claim loop would otherwise wake at every request's end (~1,000/s in v1) to find no
   * room yet, each time with a resumed async function and two new timers.
   */
  wait(ms: number, ready?: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
        ready,
      };
      const timer = setTimeout(waiter.done, Math.max(0, ms));
      this.waiters.add(waiter);
    });
  }

  /** Wakes every current waiter whose condition (if any) holds now. */
  fire(): void {
    for (const w of [...this.waiters]) if (!w.ready || w.ready()) w.done();
  }
}

/**
 * Waits until `busy()` is false or `budgetMs` has passed, waking at every `signal` fire (or
 * every `pollMs`). Returns true when it is idle, false when the budget ran out first.
 */
export async function idleWithin(
  signal: Signal,
  busy: () => boolean,
  budgetMs: number,
  pollMs: number,
): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  while (busy() && Date.now() < deadline) {
    await signal.wait(Math.min(pollMs, deadline - Date.now()), () => !busy());
  }
  return !busy();
}
