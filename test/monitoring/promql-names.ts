// Metric and label names a PromQL expression uses, and the names a /metrics page exposes: enough
// PromQL to check that the shipped alerts and dashboard only name what XTrinode exports.
import { parseMetrics } from "../support/metrics-text.ts";

export interface PromqlNames {
  /** Metric names of the expression's selectors, each with the label names its matchers use. */
  selectors: Array<{ metric: string; labels: string[] }>;
  /** Label names in by / without / on / ignoring / group_left / group_right lists. */
  groupingLabels: string[];
}

const groupingKeywords = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const operatorKeywords = new Set(["and", "or", "unless", "bool", "offset", "atan2"]);
const aggregations = new Set([
  "sum",
  "min",
  "max",
  "avg",
  "group",
  "stddev",
  "stdvar",
  "count",
  "count_values",
  "bottomk",
  "topk",
  "quantile",
  "limitk",
  "limit_ratio",
]);
const token =
  /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\[[^\]]*\]|[A-Za-z_:][A-Za-z0-9_:]*|=~|!~|!=|==|>=|<=|[{}(),=<>+\-*/%^]|(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_])|\d+(?:\.\d+)?(?:e[+-]?\d+)?|\$\w+|\s+/gy;

export function tokenize(expr: string): string[] {
  const tokens: string[] = [];
  token.lastIndex = 0;
  while (token.lastIndex < expr.length) {
    const at = token.lastIndex;
    const match = token.exec(expr);
    if (!match) throw new Error(`cannot read PromQL at ${JSON.stringify(expr.slice(at, at + 20))} in ${expr}`);
    if (!/^\s+$/.test(match[0])) tokens.push(match[0]);
  }
  return tokens;
}

const isIdentifier = (text: string | undefined) => text !== undefined && /^[A-Za-z_:][A-Za-z0-9_:]*$/.test(text);

export function promqlNames(expr: string): PromqlNames {
  const tokens = tokenize(expr);
  const result: PromqlNames = { selectors: [], groupingLabels: [] };
  const readList = (start: number): { names: string[]; end: number } => {
    // tokens[start] is "("; a list of identifiers separated by commas.
    const names: string[] = [];
    let i = start + 1;
    for (; tokens[i] !== ")"; i++) {
      if (i >= tokens.length) throw new Error(`unclosed label list in ${expr}`);
      if (isIdentifier(tokens[i])) names.push(tokens[i]);
      else if (tokens[i] !== ",") throw new Error(`unexpected ${tokens[i]} in a label list of ${expr}`);
    }
    return { names, end: i };
  };
  const readMatchers = (start: number): { labels: string[]; end: number } => {
    const labels: string[] = [];
    let i = start + 1;
    for (; tokens[i] !== "}"; i++) {
      if (i >= tokens.length) throw new Error(`unclosed matchers in ${expr}`);
      if (isIdentifier(tokens[i]) && ["=", "!=", "=~", "!~"].includes(tokens[i + 1])) labels.push(tokens[i]);
    }
    return { labels, end: i };
  };
  for (let i = 0; i < tokens.length; i++) {
    const current = tokens[i];
    if (current === "{") {
      const { labels, end } = readMatchers(i);
      result.selectors.push({ metric: "", labels });
      i = end;
      continue;
    }
    if (!isIdentifier(current)) continue;
    if (groupingKeywords.has(current)) {
      if (tokens[i + 1] === "(") {
        const { names, end } = readList(i + 1);
        result.groupingLabels.push(...names);
        i = end;
      }
      continue;
    }
    if (operatorKeywords.has(current) || aggregations.has(current) || tokens[i + 1] === "(") continue; // functions
    const selector = { metric: current, labels: [] as string[] };
    if (tokens[i + 1] === "{") {
      const { labels, end } = readMatchers(i + 1);
      selector.labels = labels;
      i = end;
    }
    result.selectors.push(selector);
  }
  return result;
}

/** Sample name → label names, from a Prometheus text exposition (/metrics). */
export function exposedSeries(text: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const sample of parseMetrics(text)) {
    const labels = series.get(sample.name) ?? new Set<string>();
    for (const label of Object.keys(sample.labels)) labels.add(label);
    series.set(sample.name, labels);
  }
  return series;
}

/** Labels Prometheus adds to every scraped series (target labels of the ServiceMonitors). */
export const targetLabels = new Set(["job", "instance", "pod", "service", "endpoint", "container"]);

/** Problems with one expression against the exposed series: unknown metrics, unknown label names. */
export function unknownNames(expr: string, exposed: Map<string, Set<string>>): string[] {
  const names = promqlNames(expr);
  const problems: string[] = [];
  const labelsOfExpression = new Set(targetLabels);
  for (const selector of names.selectors) {
    if (!selector.metric) {
      problems.push(`a selector without a metric name`);
      continue;
    }
    const labels = exposed.get(selector.metric);
    if (!labels) {
      problems.push(`metric ${selector.metric} is not exported`);
      continue;
    }
    for (const label of labels) labelsOfExpression.add(label);
    for (const label of selector.labels)
      if (!labels.has(label) && !targetLabels.has(label)) problems.push(`${selector.metric} has no label ${label}`);
  }
  for (const label of names.groupingLabels)
    if (!labelsOfExpression.has(label)) problems.push(`no metric of the expression has label ${label}`);
  return problems;
}
