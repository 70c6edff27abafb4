import { execFileSync } from "node:child_process";

/**
 * Whether Debian's `prometheus` package (prometheus and promtool) is installed. `.ci/run`
 * installs it when missing; on a development machine without it the suites that run it are
 * skipped, and under CI (CI=true) a missing binary is a failure instead of a skip.
 */
export function hasPrometheus(): boolean {
  try {
    execFileSync("promtool", ["--version"], { stdio: "ignore" });
    execFileSync("prometheus", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI) {
      throw new Error(
        "CI=true but prometheus/promtool are not installed (apt-get install prometheus)",
      );
    }
    return false;
  }
}
