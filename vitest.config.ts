import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // Suites start real servers and databases; a shared 2-core machine needs room, not speed limits.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two files at a time: vitest's default on 2 cores is one (cores - 1), and most suites spend
    // their time waiting on sockets, child processes and Postgres, not on the CPU. A full run
    // went from 1,244 s to 684 s, every test passing.
    maxWorkers: 2,
  },
});
