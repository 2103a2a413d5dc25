// gitops sync against real repositories: a spec work tree and a bare repository as the remote.
import { expect } from "chai";
import path from "node:path";
import { gitopsSync, type SyncOptions } from "../../reconciler/gitops/sync.ts";
import {
  commitCount,
  commitSpecs,
  filesOfLastCommit,
  git,
  initBare,
  initRepo,
  removeSpec,
  runtimeYaml,
  tempDirs,
  writeSpec,
} from "./support.ts";

describe("gitops sync", function () {
  const temp = tempDirs();
  let specs: string;
  let remote: string;
  const sync = (extra: Partial<SyncOptions> = {}) => gitopsSync({ specs, target: remote, branch: "main", push: true, ...extra });

  beforeEach(async () => {
    const root = await temp.make("sync");
    specs = path.join(root, "specs");
    await initRepo(specs);
    await writeSpec(specs, "alpha.yaml", runtimeYaml("alpha", { workers: 1 }));
    await writeSpec(specs, "beta.yaml", runtimeYaml("beta", { workers: 2 }));
    await writeSpec(specs, "gamma.yaml", runtimeYaml("gamma", { namespace: "team-b", suspended: true }));
    await commitSpecs(specs, "three runtimes");
    remote = await initBare(path.join(root, "rendered.git"));
  });
  after(() => temp.cleanup());

  it("commits once: a second sync of the same specs is a no-op", async () => {
    const first = await sync();
    expect(first.committed).to.equal(true);
    expect(first.changes.added).to.deep.equal(["team-a/alpha", "team-a/beta", "team-b/gamma"]);
    const tree = (await git(remote, "ls-tree", "-r", "--name-only", "main")).split("\n");
    expect(tree).to.include.members([
      "team-a/alpha/values.yaml",
      "team-a/alpha/deployment-alpha-trino-coordinator.yaml",
      "team-b/gamma/deployment-gamma-trino-worker.yaml",
      "_gateway/configmap-trino-gateway-routes.yaml",
      "_crds/xtrinode.io_xtrinodes.yaml",
      "kustomization.yaml",
      "xtrinode-gitops.yaml",
    ]);
    const message = await git(remote, "log", "-1", "--format=%B", "main");
    expect(message).to.match(/Added:\n {2}- team-a\/alpha\n {2}- team-a\/beta\n {2}- team-b\/gamma/);
    const specCommit = (await git(specs, "rev-parse", "HEAD")).trim();
    expect(message).to.include(`Source-Commit: ${specCommit}`);
    expect(await git(remote, "log", "-1", "--format=%an <%ae>", "main")).to.equal("XTrinode GitOps <xtrinode-gitops@xtrinode.io>\n");
    const metadata = await git(remote, "show", "main:xtrinode-gitops.yaml");
    expect(metadata).to.include(`commit: ${specCommit}`).and.include("xtrinodeVersion: 0.1.0").and.include("path: .");
    const routes = await git(remote, "show", "main:_gateway/configmap-trino-gateway-routes.yaml");
    expect(routes).to.include("name: trino-gateway-routes").and.include("namespace: xtrinode-gateway").and.include("routes.yaml:");
    expect(routes).to.match(/name: gamma[\s\S]*state: PAUSED/);

    // kustomization.yaml lists exactly the manifests: every file except values.yaml and the metadata.
    const kustomization = (await git(remote, "show", "main:kustomization.yaml"))
      .split("\n")
      .filter((l) => l.startsWith("  - "))
      .map((l) => l.slice(4));
    expect(kustomization).to.deep.equal(
      tree.filter((f) => f && !f.endsWith("values.yaml") && f !== "kustomization.yaml" && f !== "xtrinode-gitops.yaml"),
    );

    const second = await sync();
    expect(second.committed).to.equal(false);
    expect(await commitCount(remote)).to.equal(1);
  });

  it("a changed spec commits only that runtime's files (and the metadata's source commit)", async () => {
    await sync();
    await writeSpec(specs, "beta.yaml", runtimeYaml("beta", { workers: 3 }));
    await commitSpecs(specs, "beta: 3 workers");
    const result = await sync();
    expect(result.changes).to.deep.include({ added: [], changed: ["team-a/beta"], removed: [], shared: [] });
    const files = await filesOfLastCommit(remote);
    // Worker count: the worker Deployment and the values; routes/guardrails/kustomization are unchanged.
    // The metadata file changes because it records the new spec commit.
    expect(files).to.deep.equal(["team-a/beta/deployment-beta-trino-worker.yaml", "team-a/beta/values.yaml", "xtrinode-gitops.yaml"]);
    expect(await git(remote, "log", "-1", "--format=%B", "main")).to.match(/Changed:\n {2}- team-a\/beta\n/);
    expect(await commitCount(remote)).to.equal(2);
  });

  it("a spec commit that renders the same objects makes no commit", async () => {
    await sync();
    await writeSpec(specs, "README.md", "not a spec\n");
    await commitSpecs(specs, "docs only");
    expect((await sync()).committed).to.equal(false);
    expect(await commitCount(remote)).to.equal(1);
  });

  it("a deleted spec removes its runtime directory and its route", async () => {
    await sync();
    await removeSpec(specs, "gamma.yaml");
    await commitSpecs(specs, "drop gamma");
    const result = await sync();
    expect(result.changes.removed).to.deep.equal(["team-b/gamma"]);
    expect(result.changes.shared).to.deep.equal(["_gateway/configmap-trino-gateway-routes.yaml", "kustomization.yaml"]);
    const tree = await git(remote, "ls-tree", "-r", "--name-only", "main");
    expect(tree).not.to.include("team-b/");
    expect(await git(remote, "show", "main:_gateway/configmap-trino-gateway-routes.yaml")).not.to.include("gamma");
    expect(await git(remote, "log", "-1", "--format=%B", "main")).to.match(/Removed:\n {2}- team-b\/gamma\n/);
  });

  it("leaves files outside its layout alone and writes under --path-prefix", async () => {
    await sync({ prefix: "clusters/east/" });
    const tree = (await git(remote, "ls-tree", "-r", "--name-only", "main")).split("\n");
    expect(tree).to.include("clusters/east/team-a/alpha/values.yaml");
    expect(tree.filter((f) => f && !f.startsWith("clusters/east/"))).to.deep.equal([]);
    // A README committed by someone else next to the rendered tree survives later syncs.
    const clone = path.join(await temp.make("clone"), "c");
    await git(path.dirname(clone), "clone", "--quiet", remote, clone);
    await writeSpec(clone, "clusters/east/README.md", "hand-written\n");
    await git(clone, "add", "-A");
    await git(clone, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "--quiet", "-m", "readme");
    await git(clone, "push", "--quiet", "origin", "main");
    await removeSpec(specs, "alpha.yaml");
    await commitSpecs(specs, "drop alpha");
    await sync({ prefix: "clusters/east" });
    const after = await git(remote, "ls-tree", "-r", "--name-only", "main");
    expect(after).to.include("clusters/east/README.md");
    expect(after).not.to.include("clusters/east/team-a/alpha/");
  });

  it("without --push reports the change and leaves the remote untouched", async () => {
    const result = await sync({ push: false });
    expect(result.committed).to.equal(false);
    expect(result.message).to.match(/Added:/);
    expect(await commitCount(remote)).to.equal(0);
  });

  it("invalid specs: throws with every issue, nothing committed", async () => {
    await sync();
    await writeSpec(specs, "beta.yaml", runtimeYaml("beta", { workers: -1 }));
    await writeSpec(specs, "delta.yaml", runtimeYaml("delta").replace("mode: fixed", "mode: sometimes"));
    let error: unknown;
    try {
      await sync();
    } catch (e) {
      error = e;
    }
    const issues = (error as { issues?: Array<{ file?: string }> }).issues ?? [];
    expect(issues.map((i) => path.basename(i.file ?? "")).sort()).to.include.members(["beta.yaml", "delta.yaml"]);
    expect(await commitCount(remote)).to.equal(1);
  });
});
