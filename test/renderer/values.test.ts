// The Helm values: chart keys only (or the extension key / documented open maps), valid against
// schemas/values.schema.json, and the valuesOverlay merge rules.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import yaml from "js-yaml";
import { mergePatch as deepMerge } from "../../schemas/api/index.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";
import { fixtureNames, renderFixture, repoRoot, specsDir } from "./support.ts";

// The Trino chart's values.yaml (chart 1.42.2), a verbatim copy (fixtures/trino-chart/SOURCE.md).
const chartValuesFile = path.join(repoRoot, "fixtures", "trino-chart", "values.yaml");
let chartValues: Record<string, unknown> | undefined;
function chart(): Record<string, unknown> {
  if (!existsSync(chartValuesFile)) throw new Error(`the Trino chart's values.yaml is expected at ${chartValuesFile}`);
  chartValues ??= yaml.load(readFileSync(chartValuesFile, "utf8")) as Record<string, unknown>;
  return chartValues;
}
const valuesSchema = JSON.parse(readFileSync(path.join(repoRoot, "schemas", "values.schema.json"), "utf8"));

/** Documented open maps (x-open-map in schemas/values.schema.json): keys below them are free. */
function openMapPaths(): string[] {
  const paths: string[] = [];
  const walk = (node: any, at: string) => {
    // Follow $refs; the marker may sit on any schema of the chain.
    let resolved = node ?? {};
    let marked = Boolean(resolved["x-open-map"]);
    while (resolved.$ref) {
      resolved = resolved.$ref
        .replace(/^#\//, "")
        .split("/")
        .reduce((n: any, k: string) => n[k], valuesSchema);
      marked ||= Boolean(resolved["x-open-map"]);
    }
    if (marked) paths.push(at);
    for (const [key, child] of Object.entries(resolved.properties ?? {})) walk(child, at ? `${at}.${key}` : key);
    if (resolved.items) walk(resolved.items, `${at}[]`);
  };
  walk(valuesSchema, "");
  return paths;
}

/** Every key path of a values document; array items as `[]`. Open maps are not descended into. */
function keyPaths(value: unknown, open: Set<string>, at = ""): string[] {
  if (open.has(at)) return [at];
  if (Array.isArray(value)) return value.length ? value.flatMap((v) => keyPaths(v, open, `${at}[]`)) : [at];
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return [at];
    return entries.flatMap(([k, v]) => keyPaths(v, open, at ? `${at}.${k}` : k));
  }
  return [at];
}

/**
 * Whether the chart's values.yaml has the path. Items of a chart list (`env[]`, `tolerations[]`) are
 * the Kubernetes objects the chart documents for that list, so a path into them counts as the list's.
 */
function inChart(keyPath: string): boolean {
  let node: unknown = chart();
  for (const part of keyPath.split(".")) {
    const key = part.replace(/\[\]$/, "");
    if (!node || typeof node !== "object" || !(key in (node as object))) return false;
    node = (node as Record<string, unknown>)[key];
    if (part.endsWith("[]")) return Array.isArray(node);
  }
  return true;
}

describe("Helm values", () => {
  const open = new Set(openMapPaths());

  it("documents its open maps in the values schema", () => {
    expect([...open]).to.include.members([
      "catalogs",
      "commonLabels",
      "coordinator.nodeSelector",
      "server.keda.triggers[]",
      "env[].valueFrom",
    ]);
  });

  for (const name of fixtureNames(specsDir)) {
    it(`fixtures/specs/${name}.yaml emits only chart keys, extension keys or open maps, and validates`, async () => {
      const result = await renderFixture(name);
      for (const runtime of result.runtimes) {
        const stray = keyPaths(runtime.values, open).filter(
          (p) => !p.startsWith("xtrinode.") && p !== "xtrinode" && !open.has(p) && !inChart(p),
        );
        expect(stray, `${runtime.name}: keys not in the Trino chart`).to.deep.equal([]);
        expect(validateAgainstSchema("TrinoValues", runtime.values)).to.deep.equal([]);
      }
    });
  }

  it("the key walk catches a key the chart does not have", () => {
    expect(keyPaths({ server: { autoscalling: { enabled: true } } }, open).filter((p) => !inChart(p))).to.deep.equal([
      "server.autoscalling.enabled",
    ]);
  });

  it("sets http-server.process-forwarded on the coordinator only", async () => {
    const runtime = (await renderFixture("minimal")).runtimes[0];
    const server = runtime.values.server as Record<string, string>;
    expect(server.coordinatorExtraConfig).to.contain("http-server.process-forwarded=true");
    expect(server.workerExtraConfig).to.not.contain("process-forwarded");
    const coordinatorCm = runtime.objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-coordinator"))!;
    expect((coordinatorCm.data as Record<string, string>)["config.properties"]).to.match(/^http-server\.process-forwarded=true$/m);
  });

  it("catalog secrets become ${ENV:...} placeholders with secretKeyRef env on coordinator and workers", async () => {
    const bi = (await renderFixture("shared-catalogs")).runtimes.find((r) => r.name === "bi")!;
    const catalogs = bi.values.catalogs as Record<string, string>;
    expect(Object.keys(catalogs)).to.deep.equal(["datalake", "sales_db"]);
    expect(catalogs.sales_db).to.contain("connection-password=${ENV:XTN_CAT_SALES_DB_CONNECTION_PASSWORD}");
    expect(bi.values.env).to.deep.include({
      name: "XTN_CAT_SALES_DB_CONNECTION_PASSWORD",
      valueFrom: { secretKeyRef: { name: "sales-db-credentials", key: "password" } },
    });
    for (const deployment of bi.objects.filter((o) => o.kind === "Deployment")) {
      const env = (deployment.spec as any).template.spec.containers[0].env;
      expect(env.map((e: { name: string }) => e.name)).to.include.members([
        "XTN_CAT_SALES_DB_CONNECTION_PASSWORD",
        "XTN_CAT_SALES_DB_CONNECTION_USER",
        "XTN_CAT_DATALAKE_S3_AWS_SECRET_KEY",
      ]);
    }
  });
});

describe("valuesOverlay merge rules", () => {
  it("merges maps key by key, recursively", () => {
    expect(deepMerge({ a: { b: 1, c: 2 }, d: 3 }, { a: { c: 20, e: 5 } })).to.deep.equal({ a: { b: 1, c: 20, e: 5 }, d: 3 });
  });
  it("replaces lists instead of concatenating them", () => {
    expect(deepMerge({ list: [1, 2, 3] }, { list: [9] })).to.deep.equal({ list: [9] });
  });
  it("deletes a key set to null", () => {
    expect(deepMerge({ a: { b: 1, c: 2 } }, { a: { b: null } })).to.deep.equal({ a: { c: 2 } });
  });
  it("replaces a scalar with a map and a map with a scalar", () => {
    expect(deepMerge({ a: 1, b: { c: 1 } }, { a: { x: 1 }, b: "s" })).to.deep.equal({ a: { x: 1 }, b: "s" });
  });
  it("does not modify its inputs or share the overlay's objects", () => {
    const base = { a: { b: 1 } };
    const overlay = { a: { c: [1] } };
    const merged = deepMerge(base, overlay) as { a: Record<string, unknown> };
    (merged.a as { c: number[] }).c.push(2);
    expect(base).to.deep.equal({ a: { b: 1 } });
    expect(overlay).to.deep.equal({ a: { c: [1] } });
  });
  it("is applied after the spec-derived values (hpa-overlay fixture)", async () => {
    const etl = (await renderFixture("hpa-overlay")).runtimes[0];
    const autoscaling = (etl.values.server as any).autoscaling;
    expect(autoscaling).to.deep.include({
      enabled: true,
      maxReplicas: 12,
      targetCPUUtilizationPercentage: 60,
      targetMemoryUtilizationPercentage: "",
    });
    expect(etl.values.additionalLogProperties).to.deep.equal(["io.airlift=WARN"]);
  });
});
