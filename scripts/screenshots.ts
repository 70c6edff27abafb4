// The README's dashboard screenshots (docs/img/dashboard-*.png), taken with the browser the
// tests use (Debian's chromium, playwright-core) from a real `meterline start`: the demo's
// traffic and poison pills, events of a customer not linked to Stripe, the latest
// reconciliation, and the account circuit open while the emulator refuses Meterline's key.
//
//   npm run screenshots
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromium } from "../test/support/chromium.ts";
import { runStart } from "../test/support/running-start.ts";
import { METERLINE_BIN, startEnv } from "../test/support/start-env.ts";

const OUT = join(import.meta.dirname, "../docs/img");
const dir = mkdtempSync(join(tmpdir(), "meterline-screenshots-"));
const dataDir = join(dir, "data");

/** Runs `meterline <args>` against the running start; throws unless it exits 0. */
async function meterlineCommand(args: string[]): Promise<void> {
  const child = spawn(process.execPath, [METERLINE_BIN, ...args], {
    env: startEnv(dataDir),
    stdio: ["ignore", "ignore", "inherit"],
  });
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`meterline ${args.join(" ")} exited with ${code}`);
}

const meterline = await runStart(dataDir, { METERLINE_UNLINKED_HOLD_HOURS: "0" });
const browser = await launchChromium();
try {
  process.stdout.write("demo traffic (90 s)…\n");
  await meterlineCommand(["demo", "--duration", "90", "--rate", "25", "--customers", "8"]);
  await meterline.call("PUT", "/v1/customers/newco", {});
  await meterline.call("POST", "/v1/events", {
    events: [1, 2, 3].map((i) => ({
      id: `newco-${i}`,
      customer: "newco",
      event_name: meterline.example.event_name,
      value: i,
    })),
  });
  await meterline.call("POST", "/v1/reconciliations", { settle_minutes: 0 });
  await meterline.stripeKeyAccess("revoke");
  await meterline.call("POST", "/v1/events", { ...meterline.example, id: "held-1", value: 1 });

  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  mkdirSync(OUT, { recursive: true });
  await page.goto(`${meterline.api}/`);
  await page.locator("#sign-in-form").waitFor();
  await page.screenshot({
    path: join(OUT, "dashboard-sign-in.png"),
    clip: { x: 0, y: 0, width: 1280, height: 520 },
  });

  await page.fill("#key", meterline.key);
  await page.click("#sign-in-button");
  await page.locator('#c-list li[data-scope="account"]').waitFor({ timeout: 30_000 });
  await page.locator('#d-rows tr[data-code="customer_unlinked"]').waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });

  await page.click('#d-rows tr[data-code="customer_unlinked"] button[data-action="retry"]');
  await page.locator("#d-confirm").waitFor();
  await page.locator("#dead-letters").screenshot({ path: join(OUT, "dashboard-retry.png") });
  process.stdout.write(`screenshots in ${OUT}\n`);
} finally {
  await browser.close();
  await meterline.stripeKeyAccess("restore").catch(() => {});
  await meterline.stop();
  rmSync(dir, { recursive: true, force: true });
}
