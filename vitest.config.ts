import { configDefaults, defineConfig } from "vitest/config";

/**
 * Suites that keep both cores busy for a minute or more (the chaos run's workers, the bench's
 * processes). Beside another such suite each starves the other: a chaos worker that cannot run can lose
 * leases it is still working on, and the run then blames the reporter for what the machine did.
 * They run one at a time, after the rest.
 */
const ALONE = ["test/chaos/small-chaos.test.ts", "test/bench/json.test.ts"];

export default defineConfig({
  test: {
    globalSetup: ["test/support/global-setup.ts"],
    // Suites start real servers and databases; a shared 2-core machine needs room, not speed limits.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "suites",
          include: ["test/**/*.test.ts", "src/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...ALONE],
          // Two files at a time: vitest's default on 2 cores is one (cores - 1), and most suites
          // spend their time waiting on sockets, child processes and Postgres, not on the CPU. A
          // full run went from 1,244 s to 684 s, every test passing.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "alone",
          include: ALONE,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
