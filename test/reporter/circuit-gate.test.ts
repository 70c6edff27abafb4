import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db/connect.ts";
import { readCircuits } from "../../src/outbox/circuits.ts";
import { CircuitGate } from "../../src/reporter/circuit-gate.ts";
import { backends, freshDatabase } from "../support/db.ts";
import { memoryLogger } from "./harness.ts";

describe.each(backends)("a worker's circuit gate, on %s", (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase(kind);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("a read of the circuits taken before this worker opened one does not resume it", async () => {
    const { db } = database;
    // A real read of the table, whose answer is held until the test lets it go: the read is
    // taken while no circuit is open, and answers after this worker has opened one.
    let read!: () => void;
    const taken = new Promise<void>((resolve) => {
      read = resolve;
    });
    let answer!: () => void;
    const held = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const gate = new CircuitGate(db, "gate-test", 60_000, 20, memoryLogger(), async (d) => {
      const circuits = await readCircuits(d);
      read();
      await held;
      return circuits;
    });
    const syncing = gate.sync(true);
    await taken;
    expect(await gate.open("systemic:parameter_invalid_integer", "ten customers alike")).toBe(true);
    answer();
    // The stale answer (no circuit) is dropped: the worker stays halted, and says no change.
    expect(await syncing).toBeNull();
    expect(gate.halted?.scope).toBe("systemic:parameter_invalid_integer");
    // The next read sees the circuit this worker wrote.
    const again = new CircuitGate(db, "gate-test-2", 60_000, 20, memoryLogger());
    expect(await again.sync(true)).toBe("halted");
  });
});
