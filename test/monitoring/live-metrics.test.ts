// Every metric and label name the shipped alerts (deploy/monitoring/prometheusrule.yaml) and the
// Grafana dashboard (xtrinode-dashboard.json) use is on the LIVE /metrics of a running gateway,
// lifecycle API and operator (the local stack: real processes), after traffic that creates the
// labelled series: queries, a suspend, a held query that wakes its runtime, and a rate-limited burst.
import { expect } from "chai";
import { BasicAuth, Trino } from "trino-client";
import { startLocalStack, type LocalStack } from "../../fixtures/local-stack/index.ts";
import { createClusterClient, type ClusterClient } from "../../reconciler/kube-client.ts";
import { runQuery } from "../e2e/support.ts";
import { eventually } from "../support/eventually.ts";
import { killAllChildren, runXtrinode } from "../support/process.ts";
import { dashboardQueries, prometheusRuleGroups } from "./monitoring.ts";
import { exposedSeries, unknownNames } from "./promql-names.ts";

const namespace = "analytics"; // examples/specs: runtimes bi (always on) and adhoc (wakeTTL)

describe("monitoring: alert and dashboard names against live /metrics", function () {
  this.timeout(120_000);
  let stack: LocalStack;
  let client: ClusterClient;
  let exposed: Map<string, Set<string>>;

  const phase = async (name: string) =>
    (
      (await client.get({ apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", namespace, name })) as
        { status?: { phase?: string } } | undefined
    )?.status?.phase;
  const query = (runtime: string, sql: string) =>
    runQuery(
      Trino.create({
        server: stack.gatewayUrl,
        auth: new BasicAuth("monitoring"),
        extraHeaders: { "X-Trino-XTrinode": `${namespace}/${runtime}` },
      }),
      sql,
    );

  before(async function () {
    stack = await startLocalStack({
      deploymentReadyDelayMs: 300,
      drainPeriod: "1s",
      retryAfterSeconds: 1,
      activityMinIntervalSeconds: 1,
      gatewayConfig: {
        health: { intervalMs: 200, timeoutMs: 500, failureThreshold: 2 },
        held: { pollWaitMs: 200 },
        rateLimit: { queriesPerSecond: 1, burst: 8 },
      },
    });
    client = createClusterClient(stack.kubeConfig);
    for (const name of ["bi", "adhoc"])
      await eventually(`${namespace}/${name} Ready`, async () => (await phase(name)) === "Ready", {
        timeoutMs: 30_000,
        describe: () => phase(name),
      });

    // Traffic: a query; a suspend through the lifecycle API; a query that is held and wakes adhoc.
    // Ready in the cluster comes before the gateway's health checks have seen the coordinator: retry.
    await eventually("a query on bi to finish", async () => (await query("bi", "SELECT 1")).state === "FINISHED", 30_000);
    const suspend = await fetch(`${stack.apiServerUrl}/v1/runtimes/${namespace}/adhoc/suspend`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    expect(suspend.status, await suspend.text()).to.be.oneOf([200, 202]);
    await eventually("adhoc Suspended", async () => (await phase("adhoc")) === "Suspended", {
      timeoutMs: 30_000,
      describe: () => phase("adhoc"),
    });
    const woken = await query("adhoc", "SELECT 2");
    expect(woken.state, woken.error).to.equal("FINISHED");
    await eventually("adhoc Ready again", async () => (await phase("adhoc")) === "Ready", {
      timeoutMs: 30_000,
      describe: () => phase("adhoc"),
    });
    // A burst beyond the rate limit (8 queries, 1 per second): some are refused.
    await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${stack.gatewayUrl}/v1/statement`, {
          method: "POST",
          headers: { "x-trino-user": "burst", "x-trino-xtrinode": `${namespace}/bi` },
          body: "SELECT 3",
        }).then((response) => response.text()),
      ),
    );

    const operatorUrl = `http://127.0.0.1:${stack.operator.readyLine.metricsPort}`;
    const pages = await Promise.all(
      [stack.gatewayUrl, stack.apiServerUrl, operatorUrl].map(async (url) => {
        const response = await fetch(`${url}/metrics`);
        expect(response.status, `${url}/metrics`).to.equal(200);
        return response.text();
      }),
    );
    exposed = new Map();
    for (const page of pages)
      for (const [name, labels] of exposedSeries(page)) exposed.set(name, new Set([...(exposed.get(name) ?? []), ...labels]));
  });
  after(async () => {
    await killAllChildren();
    await stack?.stop();
  });

  it("xtrinode status (as npm start prints it) shows the operator-written phases with the gateway's counts", async () => {
    const { code, stdout, stderr } = await runXtrinode([
      "status",
      "-A",
      "--kubeconfig",
      stack.kubeconfigPath,
      "--gateway-url",
      stack.gatewayUrl,
      "--gateway-token-file",
      stack.gatewayAdminTokenFile,
    ]);
    expect(code, stderr).to.equal(0);
    expect(stderr).to.equal(""); // the gateway answered: no note about blank columns
    const rows = stdout
      .trimEnd()
      .split("\n")
      .map((line) => line.split(/ {3,}/));
    expect(rows[0].slice(0, 7)).to.deep.equal(["NAMESPACE", "NAME", "PHASE", "ROUTE", "WORKERS", "HELD", "IN-FLIGHT"]);
    expect(rows.slice(1).map((row) => row.slice(0, 4))).to.deep.equal([
      ["analytics", "adhoc", "Ready", "RUNNING"],
      ["analytics", "bi", "Ready", "RUNNING"],
    ]);
    for (const row of rows.slice(1)) expect(row[5]).to.match(/^\d+$/);
  });

  it("the traffic produced the labelled series the alerts watch", () => {
    for (const name of [
      "xtrinode_operator_runtime_phase",
      "xtrinode_operator_runtime_condition",
      "xtrinode_gateway_resume_calls_total",
      "xtrinode_apiserver_resume_requests_total",
      "xtrinode_gateway_rate_limited_total",
      "xtrinode_gateway_queries_held",
    ]) {
      expect(exposed.has(name), name).to.equal(true);
    }
  });

  it("every alert expression names only exported metrics and labels", () => {
    const problems = prometheusRuleGroups().flatMap((group) =>
      group.rules.flatMap((rule) => unknownNames(rule.expr, exposed).map((problem) => `${rule.alert ?? rule.record}: ${problem}`)),
    );
    expect(problems).to.deep.equal([]);
  });

  it("every dashboard query names only exported metrics and labels", () => {
    const queries = dashboardQueries();
    expect(queries.length).to.be.greaterThan(20);
    const problems = queries.flatMap((query) => unknownNames(query.expr, exposed).map((problem) => `${query.panel}: ${problem}`));
    expect(problems).to.deep.equal([]);
  });
});
