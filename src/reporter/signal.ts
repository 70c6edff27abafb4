/**
 * A wake-up call for sleeping loops: `wait(ms)` resolves after `ms` or at the next `fire()`,
 * whichever comes first. Used so that stop() and a halt interrupt a poll sleep at once.
 */
export class Signal {
  private readonly waiters = new Set<() => void>();

  /** Resolves after `ms`, or earlier when fire() is called. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }

  /** Wakes every current waiter. */
  fire(): void {
    for (const done of [...this.waiters]) done();
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
    await signal.wait(Math.min(pollMs, deadline - Date.now()));
  }
  return !busy();
}
