import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's chromium package: the browser the dashboard's tests and screenshots drive. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Whether Debian's chromium is installed. `.ci/run` installs it when missing; on a development
 * machine without it the browser suites are skipped, and under CI (CI=true) a missing browser is
 * a failure instead of a skip.
 */
export function hasChromium(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI) {
    throw new Error(`CI=true but ${CHROMIUM} is not installed (apt-get install chromium)`);
  }
  return false;
}

/** Starts headless chromium: no sandbox (CI runs as root), no GPU, no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
    ],
  });
}
