import { setTimeout as sleep } from "node:timers/promises";
import type { Db } from "../../src/db/connect.ts";
import { readCircuits } from "../../src/outbox/circuits.ts";

/** How often the run looks at the open circuits. */
const POLL_MS = 200;

/** A circuit the run saw open: its scope, and when it first saw it. */
export interface SeenCircuit {
  scope: string;
  openedBy: string;
  seenAtMs: number;
}

/**
 * Remembers every circuit seen open (reporter_circuits), looked at a few times a second: the
 * evidence that a halt happened (the storm's, the wrong key's, the revocation's). Scenario
 * counts only: the invariants never read what workers wrote about themselves.
 */
export class CircuitWatch {
  private readonly seen = new Map<string, SeenCircuit>();
  private open: SeenCircuit[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly db: Db) {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.look().catch(() => {});
        await sleep(POLL_MS);
      }
    })();
  }

  /** Waits until a circuit whose scope passes `test` is open; false after `timeoutMs`. */
  async waitFor(test: (scope: string) => boolean, timeoutMs: number): Promise<SeenCircuit | null> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const found = this.open.find((c) => test(c.scope));
      if (found) return found;
      await sleep(POLL_MS);
    }
    return null;
  }

  /** Every circuit seen open so far (one entry per opening). */
  history(): SeenCircuit[] {
    return [...this.seen.values()];
  }

  /** Stops looking. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async look(): Promise<void> {
    const circuits = await readCircuits(this.db);
    this.open = circuits.map((c) => {
      // One entry per opening: the same scope opened again later is a new one.
      const key = `${c.scope}@${c.openedAt.getTime()}`;
      const known = this.seen.get(key);
      if (known) return known;
      const entry = { scope: c.scope, openedBy: c.openedBy, seenAtMs: Date.now() };
      this.seen.set(key, entry);
      return entry;
    });
  }
}
