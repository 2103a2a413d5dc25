// xtrinode diff between two revisions of a spec repository: per-runtime changes, exit codes, Markdown.
import { expect } from "chai";
import { createTwoFilesPatch } from "diff";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { diffCommand, type DiffFlags } from "../../reconciler/gitops/cli.ts";
import { specDiff } from "../../reconciler/gitops/spec-diff.ts";
import { commitSpecs, git, initRepo, removeSpec, runCli, runtimeYaml, tempDirs, writeSpec } from "./support.ts";
import { defaultGatewayNamespace } from "../../schemas/api/index.ts";

const goldenFile = path.join(path.dirname(new URL(import.meta.url).pathname), "golden", "diff.md");

/** Compares with the golden file (UPDATE_GOLDEN=1 rewrites it); the failure message is a readable diff. */
async function expectGolden(actual: string): Promise<void> {
  if (process.env.UPDATE_GOLDEN === "1") {
    await mkdir(path.dirname(goldenFile), { recursive: true });
    await writeFile(goldenFile, actual);
  }
  const expected = await readFile(goldenFile, "utf8");
  if (actual !== expected) {
    throw new Error(
      `Markdown differs from ${goldenFile} (UPDATE_GOLDEN=1 regenerates):\n${createTwoFilesPatch("golden", "actual", expected, actual)}`,
    );
  }
}

const diff = (flags: Partial<DiffFlags>) =>
  diffCommand({ specs: ".", format: "text", gatewayNamespace: defaultGatewayNamespace, ...flags });

describe("xtrinode diff", function () {
  const temp = tempDirs();
  let repo: string;
  let specs: string;

  before(async () => {
    repo = path.join(await temp.make("diff"), "spec-repo");
    specs = path.join(repo, "specs");
    await initRepo(repo);
    await writeSpec(specs, "alpha.yaml", runtimeYaml("alpha", { workers: 1 }));
    await writeSpec(specs, "beta.yaml", runtimeYaml("beta", { workers: 2 }));
    await writeSpec(specs, "epsilon.yaml", runtimeYaml("epsilon", { maxHeap: "4G" }));
    await writeSpec(specs, "gamma.yaml", runtimeYaml("gamma", { namespace: "team-b" }));
    await commitSpecs(repo, "v1");
    await git(repo, "tag", "v1");
    await writeSpec(specs, "beta.yaml", runtimeYaml("beta", { workers: 3, tag: "481" }));
    await writeSpec(specs, "epsilon.yaml", runtimeYaml("epsilon", { maxHeap: "6G" }));
    await removeSpec(specs, "gamma.yaml");
    await writeSpec(specs, "delta.yaml", runtimeYaml("delta"));
    await commitSpecs(repo, "v2");
    await git(repo, "tag", "v2");
  });
  after(() => temp.cleanup());

  it("lists runtimes added, changed and removed, with pod restarts, and exits 1", async () => {
    const result = await diff({ base: "v1", head: "v2", specs });
    expect(result.code, result.stderr).to.equal(1);
    const header = result.stdout.split("\n").filter((l) => l.startsWith("# "));
    expect(header).to.include.members([
      // objects: beta 2 + epsilon 2 + delta 9 (added) + gamma 9 (removed) + the routes ConfigMap
      "# runtimes: 1 added, 2 changed, 1 removed; objects changed: 23",
      "# added team-a/delta (9 objects)",
      "# removed team-b/gamma (9 objects)",
      "#   restarts: Deployment beta-trino-coordinator: image of trino-coordinator trinodb/trino:480 → trinodb/trino:481",
      "#   restarts: ConfigMap epsilon-trino-coordinator: JVM settings (jvm.config) changed",
    ]);
    expect(result.stdout).to.include("--- a/team-a/beta/deployment-beta-trino-worker.yaml").and.include("+  replicas: 3");
    expect(result.stdout).not.to.include("team-a/alpha/");
  });

  it("per runtime, the changed objects (values and manifests)", async () => {
    const result = await specDiff({ base: "v1", head: "v2", specs });
    const byRuntime = Object.fromEntries(
      result.runtimes.map((r) => [r.runtime, { status: r.status, files: r.files.map((f) => path.basename(f.file)) }]),
    );
    expect(Object.keys(byRuntime)).to.deep.equal(["team-a/beta", "team-a/delta", "team-a/epsilon", "team-b/gamma"]);
    expect(byRuntime["team-a/epsilon"]).to.deep.equal({
      status: "changed",
      files: ["configmap-epsilon-trino-coordinator.yaml", "deployment-epsilon-trino-coordinator.yaml", "values.yaml"],
    });
    expect(result.runtimes.find((r) => r.runtime === "team-a/epsilon")!.restarts).to.deep.equal([
      "ConfigMap epsilon-trino-coordinator: JVM settings (jvm.config) changed",
      "Deployment epsilon-trino-coordinator: checksum/coordinator-config changed (pods roll)",
    ]);
    expect(result.shared.map((f) => f.file)).to.deep.equal(["_gateway/configmap-trino-gateway-routes.yaml", "kustomization.yaml"]);
  });

  it("no change exits 0; the working tree is the default head", async () => {
    const same = await diff({ base: "v2", specs });
    expect(same.code, same.stderr).to.equal(0);
    expect(same.stdout).to.include("runtimes: 0 added, 0 changed, 0 removed");
    await writeSpec(specs, "alpha.yaml", runtimeYaml("alpha", { workers: 5 }));
    try {
      const changed = await diff({ base: "v2", specs });
      expect(changed.code).to.equal(1);
      expect(changed.stdout.split("\n").filter((l) => /^# (added|changed|removed) /.test(l))).to.deep.equal([
        "# changed team-a/alpha (1 objects)",
      ]);
      expect((await specDiff({ base: "v2", specs })).runtimes.map((r) => `${r.status} ${r.runtime}`)).to.deep.equal([
        "changed team-a/alpha",
      ]);
    } finally {
      await git(repo, "checkout", "--", "specs/alpha.yaml");
    }
  });

  it("Markdown for a pull-request comment (golden)", async () => {
    const result = await runCli(["diff", "--base", "v1", "--head", "v2", "--specs", "specs", "--format", "markdown"], { cwd: repo });
    expect(result.code, result.stderr).to.equal(1);
    await expectGolden(result.stdout);
  });

  it("errors exit 2: an unknown revision; invalid specs at a revision are named REF:path", async () => {
    const unknown = await diff({ base: "no-such-ref", specs });
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/error: .*no-such-ref/);
    await writeSpec(specs, "broken.yaml", runtimeYaml("broken", { workers: -3 }));
    await commitSpecs(repo, "broken");
    const invalid = await diff({ base: "v2", head: "HEAD", specs });
    expect(invalid.code).to.equal(2);
    expect(invalid.stderr).to.match(/^error: HEAD:specs\/broken\.yaml#0 XTrinode\/team-a\/broken: spec\.workers\.count: /m);
  });
});
