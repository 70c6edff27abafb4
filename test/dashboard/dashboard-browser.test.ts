import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP } from "../../src/dashboard/page-route.ts";
import { hasChromium, launchChromium } from "../support/chromium.ts";
import { type RunningStart, runStart } from "../support/running-start.ts";
import { waitFor } from "../support/wait.ts";

// The dashboard as a person on call uses it, in Debian's chromium driven by playwright-core,
// against a real `meterline start` (API, worker, bundled emulator): sign in through the form,
// retry a dead letter (dry run, then confirm), watch the account circuit open while the
// emulator refuses Meterline's key and close once it takes it again, sign out.
// Needs /usr/bin/chromium: .ci/run installs it (test/support/chromium.ts).
describe.skipIf(!hasChromium())("the dashboard in a real browser", () => {
  const dir = mkdtempSync(join(tmpdir(), "meterline-dashboard-"));
  let meterline: RunningStart;
  let browser: Browser;
  let page: Page;
  /** Every URL the page asked for: none may carry the key. */
  const requested: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    meterline = await runStart(join(dir, "data"), {
      // An unlinked customer's event is a dead letter at once, not after a day's hold.
      METERLINE_UNLINKED_HOLD_HOURS: "0",
      // The account circuit probes every second, so it closes soon after the key is restored.
      METERLINE_HALT_PROBE_MS: "1000",
    });
    browser = await launchChromium();
    page = await browser.newPage();
    page.on("request", (request) => requested.push(request.url()));
    page.on("pageerror", (err) => pageErrors.push(err.message));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await meterline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The count shown on the dead-letter row of `code`, or null when there is none. */
  async function deadLetterCount(code: string): Promise<string | null> {
    const row = page.locator(`#d-rows tr[data-code="${code}"] td.num`);
    return (await row.count()) === 0 ? null : row.textContent();
  }

  it("npm start prints its address; / leads to the sign-in form, served under a strict CSP; a wrong key is refused with a reason", async () => {
    expect(meterline.dashboard).toBe(`${meterline.api}/dashboard`);
    const response = await page.goto(`${meterline.api}/`);
    expect(page.url()).toBe(`${meterline.api}/dashboard`);
    expect(response?.headers()["content-security-policy"]).toBe(DASHBOARD_CSP);
    await page.locator("#sign-in-form").waitFor();
    expect(await page.locator("#board").isHidden()).toBe(true);

    await page.fill("#key", "ml_not-a-key");
    await page.click("#sign-in-button");
    await expect
      .poll(() => page.locator("#sign-in-error").textContent())
      .toBe("That key is not valid: unknown or revoked.");
    expect(await page.locator("#board").isHidden()).toBe(true);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  it("signs in with the admin key npm start printed: the board shows a live worker", async () => {
    await page.fill("#key", meterline.key);
    await page.click("#sign-in-button");
    await page.locator("#board").waitFor();
    expect(await page.locator("#sign-in").isHidden()).toBe(true);
    await expect.poll(() => page.locator("#w-count").textContent()).toBe("1 alive");
    expect(await page.locator("#w-rows .pill").first().textContent()).toBe("alive");
    expect(await page.locator("#c-none").isVisible()).toBe(true);
    // Kept in this tab's sessionStorage, sent as a header: never in a URL.
    expect(await page.evaluate(`sessionStorage.getItem("meterline.adminKey")`)).toBe(meterline.key);
  });

  it("retries a dead letter: the dry run says how many, the confirm retries it, and it is reported", async () => {
    // An event for a customer not linked to Stripe: a dead letter (customer_unlinked).
    expect((await meterline.call("PUT", "/v1/customers/newco", {})).status).toBe(201);
    const event = { id: "dash-1", customer: "newco", event_name: meterline.example.event_name };
    expect((await meterline.call("POST", "/v1/events", { ...event, value: 3 })).status).toBe(202);
    await waitFor("the dead letter on the board", async () => {
      return (await deadLetterCount("customer_unlinked")) === "1";
    });

    // The cause fixed (the customer linked), the person retries from the board.
    const customer = await meterline.stripe.customers.create({ name: "Newco" });
    const link = await meterline.call("PUT", "/v1/customers/newco", {
      stripe_customer_id: customer.id,
    });
    expect(link.status).toBe(200);
    await page.click('#d-rows tr[data-code="customer_unlinked"] button[data-action="retry"]');
    await page.locator("#d-confirm").waitFor();
    expect(await page.locator("#d-confirm-text").textContent()).toBe(
      "Retry customer_unlinked: 1 of 1 dead letter would be retried.",
    );
    // A dry run changed nothing.
    expect(await deadLetterCount("customer_unlinked")).toBe("1");
    expect((await meterline.call("GET", "/v1/events/dash-1")).json).toMatchObject({
      status: "failed",
    });

    await page.click("#d-confirm-yes");
    await expect
      .poll(() => page.locator("#d-result").textContent())
      .toBe("1 customer_unlinked dead letter retried.");
    await waitFor("the retried event to be reported", async () => {
      const trace = await meterline.call("GET", "/v1/events/dash-1");
      return (trace.json as { status: string }).status === "reported";
    });
    await waitFor("the dead letter to leave the board", async () => {
      return (await deadLetterCount("customer_unlinked")) === null;
    });
    expect(await page.locator("#d-none").isVisible()).toBe(true);
  });

  it("shows the account circuit open, with its reason and next probe, while the emulator refuses the key, and closed once restored", async () => {
    await meterline.stripeKeyAccess("revoke");
    try {
      const event = { ...meterline.example, value: 1 };
      await meterline.call("POST", "/v1/events", { ...event, id: "dash-2" });
      const circuit = page.locator('#c-list li[data-scope="account"]');
      await circuit.waitFor({ timeout: 30_000 });
      expect(await circuit.locator(".scope").textContent()).toBe("Open: account");
      expect(await circuit.locator(".reason").textContent()).toContain("401");
      expect(await circuit.locator(".when").textContent()).toMatch(/next probe (in|.* ago)/);
      expect(await page.locator("#c-none").isHidden()).toBe(true);
    } finally {
      await meterline.stripeKeyAccess("restore");
    }
    await page.locator("#c-list li").waitFor({ state: "detached", timeout: 30_000 });
    await page.locator("#c-none").waitFor();
    await waitFor("the held event to be reported", async () => {
      const trace = await meterline.call("GET", "/v1/events/dash-2");
      return (trace.json as { status: string }).status === "reported";
    });
  });

  it("signs out: the key leaves the tab, and no request ever carried it in a URL", async () => {
    await page.click("#sign-out");
    await page.locator("#sign-in-form").waitFor();
    expect(await page.locator("#board").isHidden()).toBe(true);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    // A reload stays signed out.
    await page.reload();
    await page.locator("#sign-in-form").waitFor();
    expect(requested.some((url) => url.includes("/v1/dashboard"))).toBe(true);
    expect(requested.filter((url) => url.includes(meterline.key))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
