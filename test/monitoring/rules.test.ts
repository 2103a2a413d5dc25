// deploy/monitoring/ with Debian's promtool: the PrometheusRule's groups pass `promtool check rules`,
// its unit tests (alerts.promtool.yaml: series that fire and that don't, for every alert) pass
// `promtool test rules`, and every dashboard query parses as PromQL. Plus the PromQL name extractor
// the live-metrics test relies on.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import yaml from "js-yaml";
import { ensureDebianPackages, skipForMissingPeer } from "../support/peers.ts";
import { dashboardQueries, prometheusRuleGroups, withoutGrafanaVariables } from "./monitoring.ts";
import { exposedSeries, promqlNames, unknownNames } from "./promql-names.ts";

const execFileAsync = promisify(execFile);
const unitTests = path.join(import.meta.dirname, "alerts.promtool.yaml");

async function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await execFileAsync("promtool", args, { cwd, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : -1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}

describe("monitoring: PrometheusRule and dashboard with promtool", function () {
  this.timeout(300_000);
  let dir: string;

  before(async function () {
    try {
      await ensureDebianPackages(["prometheus"]); // provides /usr/bin/promtool
    } catch (error) {
      skipForMissingPeer(this, error, "the promtool checks of deploy/monitoring");
    }
    dir = mkdtempSync(path.join(tmpdir(), "xtrinode-promtool-"));
    writeFileSync(path.join(dir, "rules.yaml"), yaml.dump({ groups: prometheusRuleGroups() }, { lineWidth: -1 }));
    copyFileSync(unitTests, path.join(dir, "alerts.promtool.yaml"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("promtool check rules accepts the PrometheusRule's groups", async () => {
    const { code, output } = await promtool(["check", "rules", "rules.yaml"], dir);
    expect(code, output).to.equal(0);
    expect(output).to.contain("SUCCESS");
  });

  it("promtool test rules: every alert fires on its series and stays quiet on the others", async () => {
    const { code, output } = await promtool(["test", "rules", "alerts.promtool.yaml"], dir);
    expect(code, output).to.equal(0);
    expect(output).to.contain("SUCCESS");
  });

  it("the unit tests cover every alert with a firing case and a quiet case", () => {
    const alerts = prometheusRuleGroups()
      .flatMap((group) => group.rules.map((rule) => rule.alert))
      .filter((name): name is string => Boolean(name));
    expect(alerts).to.include.members([
      "XTrinodeRuntimeStuckWaking",
      "XTrinodeApplyRejected",
      "XTrinodeGatewayBackendEjected",
      "XTrinodeGatewayRoutesStale",
      "XTrinodeResumeFailures",
      "XTrinodeGatewayHeldQueriesNearCap",
      "XTrinodeOperatorNoLeader",
    ]);
    const doc = yaml.load(readFileSync(unitTests, "utf8")) as {
      tests: Array<{ input_series: Array<{ series: string }>; alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    for (const alert of alerts) {
      const cases = doc.tests.flatMap((test) =>
        test.alert_rule_test.filter((check) => check.alertname === alert).map((check) => ({ check, test })),
      );
      expect(
        cases.some(({ check }) => check.exp_alerts.length > 0),
        `${alert} fires in some test`,
      ).to.equal(true);
      // Quiet: an evaluation expecting nothing, or a firing one whose input also has series that must not fire.
      const quiet = cases.some(({ check, test }) => check.exp_alerts.length === 0 || test.input_series.length > check.exp_alerts.length);
      expect(quiet, `${alert} has series that do not fire`).to.equal(true);
    }
  });

  it("promtool check rules parses every dashboard query (as recording rules)", async () => {
    const rules = dashboardQueries().map((query, index) => ({
      record: `xtrinode_dashboard:query_${index}`,
      expr: withoutGrafanaVariables(query.expr),
    }));
    writeFileSync(path.join(dir, "dashboard-queries.yaml"), yaml.dump({ groups: [{ name: "dashboard", rules }] }, { lineWidth: -1 }));
    const { code, output } = await promtool(["check", "rules", "dashboard-queries.yaml"], dir);
    expect(code, output).to.equal(0);
    expect(output).to.contain(`SUCCESS: ${rules.length} rules found`);
  });
});

describe("monitoring: PromQL names", () => {
  it("finds metric names with their matcher labels, and grouping labels, but not functions or keywords", () => {
    const names = promqlNames(
      'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{x="1", y=~"$v"}[5m]))) > 0.5 and on (instance) b unless sum without (z) (c) / ignoring(q) group_left(w) d offset 5m',
    );
    expect(names.selectors).to.deep.equal([
      { metric: "a_bucket", labels: ["x", "y"] },
      { metric: "b", labels: [] },
      { metric: "c", labels: [] },
      { metric: "d", labels: [] },
    ]);
    expect(names.groupingLabels).to.deep.equal(["le", "route", "instance", "z", "q", "w"]);
  });

  it("reports metrics and labels a /metrics page does not have", () => {
    const exposed = exposedSeries('# HELP m x\n# TYPE m gauge\nm{namespace="a",runtime="b"} 1\nn_bucket{le="+Inf"} 3\n');
    expect(unknownNames('sum by (namespace) (m{runtime="x"})', exposed)).to.deep.equal([]);
    expect(unknownNames("sum by (le) (rate(n_bucket[5m]))", exposed)).to.deep.equal([]);
    expect(unknownNames('missing{a="1"} + m{phase="x"}', exposed)).to.deep.equal([
      "metric missing is not exported",
      "m has no label phase",
    ]);
    expect(unknownNames("sum by (reason) (m)", exposed)).to.deep.equal(["no metric of the expression has label reason"]);
  });
});
