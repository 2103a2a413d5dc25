// The render/values/validate/crds commands, run as processes (bin/xtrinode.ts on this Node).
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import yaml from "js-yaml";
import { repoRoot } from "./support.ts";

const run = promisify(execFile);
interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function xtrinode(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(repoRoot, "bin", "xtrinode.ts"), ...args], {
      cwd: repoRoot,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("xtrinode CLI (renderer commands)", function () {
  this.timeout(60_000);
  let out: string;
  let emptyDir: string;
  let results: Record<string, Result>;

  before(async () => {
    out = mkdtempSync(path.join(os.tmpdir(), "xtn-cli-"));
    emptyDir = mkdtempSync(path.join(os.tmpdir(), "xtn-cli-empty-"));
    // The processes run concurrently: each pays Node's start-up once.
    const entries = await Promise.all(
      Object.entries({
        render: ["render", "examples/specs"],
        renderJsonOut: ["render", "examples/specs", "--out", out, "-o", "json"],
        values: ["values", "analytics/adhoc", "examples/specs"],
        valuesMissing: ["values", "nope", "examples/specs"],
        validateOk: ["validate", "examples/specs"],
        validateBad: ["validate", "fixtures/invalid/policy-max-workers.yaml", "fixtures/invalid/missing-catalog.yaml"],
        validateMalformed: ["validate", "fixtures/invalid/malformed-yaml.yaml"],
        renderPolicyFlag: ["render", "fixtures/specs/minimal.yaml", "--policy", "examples/specs/policy.yaml", "--no-routes"],
        renderTwoPolicies: ["render", "fixtures/specs/node-pool.yaml", "--policy", "examples/specs/policy.yaml"],
        validateEmptyDir: ["validate", emptyDir, "--allow-empty"],
        validateNoRuntimes: ["validate", "fixtures/invalid/no-runtimes.yaml"],
        validateAllowEmpty: ["validate", "fixtures/invalid/no-runtimes.yaml", "--allow-empty"],
        renderAllowEmpty: ["render", "fixtures/invalid/no-runtimes.yaml", "--allow-empty"],
        crds: ["crds"],
      }).map(async ([name, args]) => [name, await xtrinode(...args)] as const),
    );
    results = Object.fromEntries(entries);
  });
  after(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  });

  it("render streams every object and the routes ConfigMap as YAML", () => {
    const { code, stdout } = results.render;
    expect(code).to.equal(0);
    const docs = yaml.loadAll(stdout) as Array<{ kind: string; metadata: { name: string } }>;
    expect(docs.map((d) => d.kind)).to.include.members(["ResourceQuota", "Deployment", "ScaledObject", "ConfigMap"]);
    expect(docs.at(-1)!.metadata.name).to.equal("trino-gateway-routes");
  });

  it("render --out writes one file per object", () => {
    expect(results.renderJsonOut.code).to.equal(0);
    const files = readdirSync(path.join(out, "analytics"));
    expect(files).to.include("deployment-bi-trino-worker.json");
    const deployment = JSON.parse(readFileSync(path.join(out, "analytics", "deployment-bi-trino-worker.json"), "utf8"));
    expect(deployment).to.deep.include({ kind: "Deployment" });
  });

  it("values prints one runtime's Helm values; an unknown runtime fails naming the known ones", () => {
    expect(results.values.code).to.equal(0);
    const values = yaml.load(results.values.stdout) as { server: { keda: { enabled: boolean } } };
    expect(values.server.keda.enabled).to.equal(true);
    expect(results.valuesMissing.code).to.not.equal(0);
    expect(results.valuesMissing.stderr).to.contain("analytics/adhoc").and.to.contain("analytics/bi");
  });

  it("validate exits 0 on valid specs, non-zero listing every error otherwise", () => {
    expect(results.validateOk.code).to.equal(0);
    expect(results.validateOk.stdout).to.contain("valid: 2 runtimes, 2 catalogs, 1 policy");
    const bad = results.validateBad;
    expect(bad.code).to.equal(1);
    const lines = bad.stderr.trim().split("\n");
    expect(lines).to.have.length(5);
    expect(lines).to.include(
      "error: fixtures/invalid/policy-max-workers.yaml#1 XTrinode/team-a/greedy: spec.workers.count: 6 exceeds policy defaults.maxWorkers = 4",
    );
    expect(bad.stderr).to.contain("fixtures/invalid/missing-catalog.yaml#2 XTrinode/team-a/reader: spec.catalogs.names[1]");
    expect(results.validateMalformed.code).to.equal(1);
    expect(results.validateMalformed.stderr).to.match(/fixtures\/invalid\/malformed-yaml\.yaml:\d+: invalid YAML/);
  });

  it("render --policy applies a separate policy file, and refuses a second policy", () => {
    expect(results.renderPolicyFlag.code).to.equal(0);
    const docs = yaml.loadAll(results.renderPolicyFlag.stdout) as Array<{ kind: string; metadata: { namespace: string } }>;
    expect(docs.filter((d) => d.kind === "LimitRange").map((d) => d.metadata.namespace)).to.deep.equal(["default"]);
    // node-pool.yaml carries its own policy: another one is refused, not silently merged.
    expect(results.renderTwoPolicies.code).to.equal(1);
    expect(results.renderTwoPolicies.stderr).to.contain("already contain an XTrinodePolicy");
  });

  it("refuses a directory without spec files, and specs without runtimes unless --allow-empty", () => {
    expect(results.validateEmptyDir.code).to.equal(1);
    expect(results.validateEmptyDir.stderr).to.equal(`error: ${emptyDir}: no spec files (.yaml, .yml, .json) under ${emptyDir}\n`);
    expect(results.validateNoRuntimes.code).to.equal(1);
    expect(results.validateNoRuntimes.stderr)
      .to.contain("fixtures/invalid/no-runtimes.yaml: has no XTrinode documents")
      .and.to.contain("--allow-empty");
    expect(results.validateAllowEmpty).to.deep.include({ code: 0, stdout: "valid: 0 runtimes, 1 catalogs\n" });
    expect(results.renderAllowEmpty.code).to.equal(0);
    const docs = yaml.loadAll(results.renderAllowEmpty.stdout) as Array<{ kind: string; data: Record<string, string> }>;
    expect(docs.map((d) => d.kind)).to.deep.equal(["ConfigMap"]);
    expect(yaml.load(docs[0].data["routes.yaml"])).to.deep.include({ routes: [] });
  });

  it("crds prints both CustomResourceDefinitions", () => {
    const docs = yaml.loadAll(results.crds.stdout) as Array<{ kind: string; metadata: { name: string } }>;
    expect(docs.map((d) => d.metadata.name)).to.deep.equal(["xtrinodes.xtrinode.io", "xtrinodecatalogs.xtrinode.io"]);
  });
});
