// The web console end to end: Debian's Chromium (headless, driven by playwright-core) against the
// whole local stack as real processes (Kubernetes API test server, operator, lifecycle API serving
// the console, gateway). Log in, see the example runtimes, suspend one until PAUSED and resume it,
// the runtime and gateway views, a read-only identity (no buttons; its POST is refused), forged POSTs
// without a token, with a wrong one and from a cross-origin form, and markup in an Event shown as text.
// Screenshots of the main views go to a temp dir; with UPDATE_SCREENSHOTS=1 they are copied to docs/console/.
import { expect } from "chai";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import { BasicAuth, Trino } from "trino-client";
import { chromium, type Browser, type Page } from "playwright-core";
import { startLocalStack, type LocalStack } from "../../fixtures/local-stack/index.ts";
import { repoRoot } from "../../fixtures/local-stack/processes.ts";
import { ensureDebianPackages, skipForMissingPeer } from "../support/peers.ts";
import { runQuery } from "../e2e/support.ts";
import { eventually } from "../support/eventually.ts";

const chromiumPath = "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const laptop = { width: 1366, height: 860 };
const phone = { width: 390, height: 844 };

describe("web console (Chromium headless, real processes)", function () {
  this.timeout(60_000);
  let stack: LocalStack | undefined;
  let browser: Browser | undefined;
  let shotsDir: string;
  let page: Page;

  before(async function () {
    this.timeout(240_000);
    try {
      await ensureDebianPackages(["chromium"]);
    } catch (error) {
      skipForMissingPeer(this, error, "the web console tests");
    }
    shotsDir = mkdtempSync(path.join(tmpdir(), "xtrinode-console-shots-"));
    // Coordinators take 4 s to become ready, so a query held while its runtime wakes stays visible across console polls.
    stack = await startLocalStack({ drainPeriod: "1s", resyncPeriod: "30s", deploymentReadyDelayMs: 4000 });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
    page = await (await browser.newContext({ viewport: laptop })).newPage();
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close();
    await stack?.stop();
    if (shotsDir && process.env.UPDATE_SCREENSHOTS === "1") {
      const target = path.join(repoRoot, "docs", "console");
      mkdirSync(target, { recursive: true });
      for (const file of readdirSync(shotsDir)) copyFileSync(path.join(shotsDir, file), path.join(target, file));
    }
    if (shotsDir) rmSync(shotsDir, { recursive: true, force: true });
  });

  const row = (p: Page, runtime: string) => p.locator(`tr[data-runtime="${runtime}"]`);
  const routeOf = (p: Page, runtime: string) => row(p, runtime).locator('[data-field="route"]').textContent({ timeout: 5_000 });
  const screenshot = (p: Page, name: string) => p.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });

  async function logIn(p: Page, token: string): Promise<void> {
    await p.goto(stack!.consoleUrl);
    await p.locator("#token").fill(token);
    await p.getByRole("button", { name: "Log in" }).click();
    await p.locator('tr[data-runtime="analytics/bi"]').waitFor({ timeout: 15_000 });
  }

  it("serves the console with a strict Content-Security-Policy and no external resources", async () => {
    const response = await fetch(stack!.consoleUrl);
    expect(response.status).to.equal(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).to.include("default-src 'self'").and.include("script-src 'self'").and.include("frame-ancestors 'none'");
    expect(csp).not.to.include("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).to.equal("nosniff");
    const html = await response.text();
    expect(html).not.to.match(/https?:\/\//); // nothing from another origin
    expect(html).not.to.match(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
  });

  it("logs in with a token and shows the example runtimes with phase, route, workers and conditions", async () => {
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(stack!.consoleUrl);
    await page.locator("#token").fill("not-a-valid-token");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText("That token was not accepted.").waitFor();

    await logIn(page, stack!.adminToken);
    expect(await page.locator("#who").textContent()).to.equal("local-admin");
    for (const runtime of ["analytics/bi", "analytics/adhoc"]) {
      await eventually(`${runtime} RUNNING in the console`, async () => (await routeOf(page, runtime)) === "RUNNING", 30_000);
    }
    const bi = row(page, "analytics/bi");
    expect(await bi.locator('[data-field="phase"]').textContent()).to.equal("Ready");
    expect(await bi.locator('td[data-label="Workers"]').textContent()).to.equal("3/3");
    expect(await bi.locator('td[data-label="Conditions"]').textContent()).to.include("Ready: Ready");
    // Held and in-flight queries come from the gateway's status (numbers, not "—").
    await eventually("gateway query counts", async () => (await bi.locator('td[data-label="Held"]').textContent()) === "0");
    expect(await bi.locator('td[data-label="In flight"]').textContent()).to.equal("0");
    // adhoc idles after its 30m wakeTTL: the countdown is shown.
    expect(await row(page, "analytics/adhoc").locator('td[data-label="Idle suspend"]').textContent()).to.match(/^in (29|30)m/);
    await eventually("no request left this origin", () =>
      requests.every((url) => new URL(url).origin === new URL(stack!.consoleUrl).origin),
    );

    // Filter by state.
    await page.locator("#filter-state").selectOption("RUNNING");
    expect(await page.locator("tbody tr[data-runtime]").count()).to.equal(2);
    await page.locator("#filter-state").selectOption("");
    await screenshot(page, "runtimes");
  });

  it("suspends a runtime from the console and watches it reach PAUSED, then resumes it", async () => {
    await page.goto(`${stack!.consoleUrl}#/`);
    const bi = row(page, "analytics/bi");
    await bi.locator('button[data-action="suspend"]').click();
    const phaseOf = () => bi.locator('[data-field="phase"]').textContent({ timeout: 5_000 });
    await eventually(
      "analytics/bi PAUSED and Suspended in the console",
      async () => (await routeOf(page, "analytics/bi")) === "PAUSED" && (await phaseOf()) === "Suspended",
      40_000,
    );
    await bi.locator('button[data-action="resume"]').click();
    await eventually("analytics/bi RUNNING again in the console", async () => (await routeOf(page, "analytics/bi")) === "RUNNING", 40_000);
  });

  it("shows one runtime: conditions, catalogs with Ready, hostnames, history and events; names and messages as text", async () => {
    // An Event whose message is markup: shown literally, never run.
    const core = stack!.kubeConfig.makeApiClient(CoreV1Api);
    const markup = `<img src=x onerror="document.title='owned'"><b>bold</b>`;
    await core.createNamespacedEvent({
      namespace: "analytics",
      body: {
        metadata: { generateName: "adhoc.", namespace: "analytics" },
        involvedObject: { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", name: "bi", namespace: "analytics" },
        type: "Warning",
        reason: "ConsoleTest",
        message: markup,
        lastTimestamp: new Date(),
        count: 1,
        source: { component: "console-test" },
      },
    });
    await page.goto(`${stack!.consoleUrl}#/runtime/analytics/bi`);
    await page.locator('tr[data-event="ConsoleTest"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('tr[data-event="ConsoleTest"] td[data-label="Message"]').textContent()).to.equal(markup);
    expect(await page.locator("main img").count()).to.equal(0);
    expect(await page.title()).to.equal("XTrinode console");

    const main = (await page.locator("main").textContent()) ?? "";
    expect(main).to.include("bi.trino.example.com");
    // History from the Events the lifecycle API recorded (who asked, each time).
    expect(main).to.include("suspend requested by local-admin").and.include("resume requested by local-admin");
    expect(await page.locator('tr[data-event="SuspendRequested"]').count()).to.equal(1);
    expect(await page.locator('tr[data-condition="Ready"] td[data-label="Reason"]').textContent()).to.equal("Ready");
    const catalogs = await page.locator("tr[data-catalog]").count();
    expect(catalogs).to.be.greaterThan(0);
    expect(await page.locator('tr[data-catalog] td[data-label="Ready"]').allTextContents()).to.deep.equal(Array(catalogs).fill("True"));
    await screenshot(page, "runtime");
  });

  it("shows the gateway: routes generation and last-good age, queries per runtime, backends with health and breaker", async () => {
    await page.goto(`${stack!.consoleUrl}#/gateway`);
    await page.locator('tr[data-runtime="analytics/bi"]').waitFor({ timeout: 10_000 });
    const facts = (await page.locator("dl.facts").textContent()) ?? "";
    expect(facts)
      .to.match(/Routes generation[1-9]\d*/)
      .and.match(/Routes last good\d+(s|m \d+s) ago/);
    expect(await page.locator('tr[data-runtime="analytics/bi"] [data-field="route"]').textContent()).to.equal("RUNNING");
    expect(await page.locator('tr[data-runtime="analytics/bi"] td[data-label="Held"]').textContent()).to.equal("0");
    const backends = page.locator("tr[data-backend]");
    await eventually("a healthy backend", async () =>
      (await backends.locator('[data-field="health"]').allTextContents()).includes("healthy"),
    );
    expect(await backends.locator('[data-field="breaker"]').allTextContents()).to.include("closed");
    await screenshot(page, "gateway");
  });

  it("shows who is waiting: a query held while its runtime wakes counts in Held, then runs", async () => {
    const suspended = await fetch(`${stack!.apiServerUrl}/v1/runtimes/analytics/adhoc/suspend`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack!.adminToken}` },
    });
    expect(suspended.status).to.equal(202);
    await page.goto(`${stack!.consoleUrl}#/`);
    await eventually("analytics/adhoc PAUSED in the console", async () => (await routeOf(page, "analytics/adhoc")) === "PAUSED", 40_000);
    // The gateway holds the query and asks the lifecycle API to resume; the suspend intent is lifted by that resume.
    const query = runQuery(
      Trino.create({ server: stack!.gatewayUrl, auth: new BasicAuth("analyst"), extraHeaders: { "X-Trino-XTrinode": "analytics/adhoc" } }),
      "SELECT 7",
    );
    const held = row(page, "analytics/adhoc").locator('td[data-label="Held"]');
    await eventually("Held 1 for analytics/adhoc in the console", async () => (await held.textContent()) === "1", 15_000);
    const outcome = await query;
    expect(outcome.state, outcome.error).to.equal("FINISHED");
    expect(outcome.rows).to.deep.equal([[7]]);
    await eventually(
      "Held back to 0 and RUNNING",
      async () => (await held.textContent()) === "0" && (await routeOf(page, "analytics/adhoc")) === "RUNNING",
      15_000,
    );
  });

  it("fits a phone screen", async () => {
    const phonePage = await browser!.newPage({ viewport: phone, isMobile: true, hasTouch: true });
    try {
      await logIn(phonePage, stack!.adminToken);
      await eventually("runtimes RUNNING", async () => (await routeOf(phonePage, "analytics/bi")) === "RUNNING", 20_000);
      // Runs in the page (a string: this file is type-checked without the DOM library).
      const overflow = await phonePage.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth");
      expect(overflow, "horizontal overflow in px").to.be.at.most(0);
      await screenshot(phonePage, "runtimes-phone");
    } finally {
      await phonePage.close();
    }
  });

  it("shows a read-only identity no buttons, and the server refuses its POST (403)", async () => {
    const viewerPage = await browser!.newPage({ viewport: laptop });
    try {
      await logIn(viewerPage, stack!.viewerToken);
      await eventually("runtimes RUNNING", async () => (await routeOf(viewerPage, "analytics/bi")) === "RUNNING", 20_000);
      expect(await viewerPage.locator("button[data-action]").count()).to.equal(0);
      await viewerPage.goto(`${stack!.consoleUrl}#/runtime/analytics/bi`);
      await viewerPage.locator('tr[data-condition="Ready"]').waitFor();
      expect(await viewerPage.locator("button[data-action]").count()).to.equal(0);
      // The same POST the admin's button sends, from the viewer's session: refused by the server.
      const status = await viewerPage.evaluate(
        `fetch("/v1/runtimes/analytics/bi/suspend", { method: "POST", headers: { Authorization: "Bearer " + sessionStorage.getItem("xtrinode.console.token") } }).then((r) => r.status)`,
      );
      expect(status).to.equal(403);
    } finally {
      await viewerPage.close();
    }
  });

  it("refuses forged POSTs: no token (401), a wrong token (401), a cross-origin form (401, no cookie to ride on)", async () => {
    const suspendUrl = `${stack!.apiServerUrl}/v1/runtimes/analytics/bi/suspend`;
    expect((await fetch(suspendUrl, { method: "POST" })).status).to.equal(401);
    expect((await fetch(suspendUrl, { method: "POST", headers: { authorization: "Bearer wrong" } })).status).to.equal(401);

    // A page on another origin posts a form to the API while the admin is logged in in the same browser.
    await page.goto(`${stack!.consoleUrl}#/`);
    await row(page, "analytics/bi").waitFor();
    const evil: Server = createServer((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(
        `<form id="f" method="POST" action="${suspendUrl}"><input name="suspended" value="true"></form><script>document.getElementById("f").submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    try {
      const evilPage = await page.context().newPage();
      const answer = evilPage.waitForResponse((response) => response.url() === suspendUrl);
      await evilPage.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`);
      expect((await answer).status()).to.equal(401);
      await evilPage.close();
    } finally {
      evil.close();
    }
    expect(await routeOf(page, "analytics/bi")).to.equal("RUNNING");
    const view = await (
      await fetch(`${stack!.apiServerUrl}/v1/runtimes/analytics/bi`, { headers: { authorization: `Bearer ${stack!.adminToken}` } })
    ).json();
    expect((view as { suspended: boolean }).suspended).to.equal(false);
  });
});
