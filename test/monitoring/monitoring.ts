// deploy/monitoring/ as the tests read it: the PrometheusRule's alerts and the dashboard's queries.
import { readFileSync } from "node:fs";
import path from "node:path";
import yaml from "js-yaml";
import { repoRoot } from "../support/process.ts";

export const monitoringDir = path.join(repoRoot, "deploy", "monitoring");

export interface RuleGroup {
  name: string;
  rules: Array<{
    alert?: string;
    record?: string;
    expr: string;
    for?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }>;
}

export function prometheusRuleGroups(): RuleGroup[] {
  const rule = yaml.load(readFileSync(path.join(monitoringDir, "prometheusrule.yaml"), "utf8")) as {
    apiVersion: string;
    kind: string;
    spec: { groups: RuleGroup[] };
  };
  if (rule.apiVersion !== "monitoring.coreos.com/v1" || rule.kind !== "PrometheusRule")
    throw new Error("prometheusrule.yaml: expected a monitoring.coreos.com/v1 PrometheusRule");
  return rule.spec.groups;
}

export interface DashboardQuery {
  panel: string;
  expr: string;
}

/** Every PromQL expression of the dashboard: panel targets and query variables (label_values(metric, label) as `metric` grouped by label). */
export function dashboardQueries(): DashboardQuery[] {
  const dashboard = JSON.parse(readFileSync(path.join(monitoringDir, "xtrinode-dashboard.json"), "utf8")) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }>; panels?: unknown[] }>;
    templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
  };
  const queries: DashboardQuery[] = [];
  for (const panel of dashboard.panels) for (const target of panel.targets ?? []) queries.push({ panel: panel.title, expr: target.expr });
  for (const variable of dashboard.templating.list) {
    if (variable.type !== "query") continue;
    const text = typeof variable.query === "string" ? variable.query : (variable.query?.query ?? "");
    const labelValues = /^label_values\(\s*(.+?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/.exec(text);
    if (!labelValues)
      throw new Error(`dashboard variable ${variable.name}: only label_values(metric, label) queries are checked, got ${text}`);
    queries.push({ panel: `variable ${variable.name}`, expr: `group by (${labelValues[2]}) (${labelValues[1]})` });
  }
  return queries;
}

/** A dashboard expression with Grafana's variables replaced, so that Prometheus can parse it. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$\{?__\w+\}?/g, "5m").replace(/\$\{?\w+\}?/g, ".*");
}
