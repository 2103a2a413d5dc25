// The Prometheus text exposition (/metrics) as tests read it: one parser, and the two lookups the
// tests need (a sum over the series matching some labels; one series' value).

/** One sample line: `name{label="value",...} value [timestamp]`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$/;
const labelPair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

/** Every sample of a /metrics text; `#` lines and blank lines are skipped, anything else malformed throws. */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const pairs = match[2] ?? "";
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < pairs.length) {
      const pair = labelPair.exec(pairs);
      if (!pair) throw new Error(`not an exposition line (labels): ${line}`);
      labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1], labels, value: sampleValue(match[3], line) });
  }
  return samples;
}

// Prometheus reads NaN and ±Inf in any case (prom-client writes `Nan`).
const specialValues: Record<string, number> = { nan: NaN, inf: Infinity, "+inf": Infinity, "-inf": -Infinity };

function sampleValue(text: string, line: string): number {
  const special = specialValues[text.toLowerCase()];
  if (special !== undefined) return special;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`not an exposition line (value): ${line}`);
  return value;
}

/** The /metrics text of a server. */
export async function scrapeMetrics(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}

/** Sum of the samples of `name` whose labels include every pair of `labels` (0 when none does). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const sample of parseMetrics(text)) if (sample.name === name && includesLabels(sample.labels, labels)) sum += sample.value;
  return sum;
}

/** `metricSum` of a server's /metrics. */
export async function scrapeMetricSum(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum(await scrapeMetrics(baseUrl), name, labels);
}

/** The value of the one series of `name` whose labels are exactly `labels`; throws when there is none. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = parseMetrics(text).filter(
    (sample) =>
      sample.name === name && includesLabels(sample.labels, labels) && Object.keys(sample.labels).length === Object.keys(labels).length,
  );
  if (found.length !== 1) throw new Error(`${found.length} series ${name}${JSON.stringify(labels)} in /metrics (expected exactly 1)`);
  return found[0].value;
}

function includesLabels(sample: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => sample[key] === value);
}
