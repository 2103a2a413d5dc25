// What gitops sync may delete (only what its previous render recorded), a relative --target, --allow-empty.
import { expect } from "chai";
import path from "node:path";
import { resolveRemote } from "../../reconciler/gitops/git.ts";
import { gitopsSync, type SyncOptions } from "../../reconciler/gitops/sync.ts";
import { recordedPaths } from "../../reconciler/gitops/tree.ts";
import {
  commitCount,
  commitSpecs,
  git,
  initBare,
  initRepo,
  removeSpec,
  runCli,
  runtimeYaml,
  secretCatalogYaml,
  tempDirs,
  writeSpec,
} from "./support.ts";

/** Commits files (path → content) onto `main` of a bare repository from a throw-away clone, as another writer would. */
async function commitByHand(remote: string, clone: string, files: Record<string, string>): Promise<void> {
  await git(path.dirname(clone), "clone", "--quiet", remote, clone);
  for (const [file, content] of Object.entries(files)) await writeSpec(clone, file, content);
  await git(clone, "add", "-A");
  await git(clone, "-c", "user.name=x", "-c", "user.email=x@example.com", "commit", "--quiet", "-m", "by hand");
  await git(clone, "push", "--quiet", "origin", "HEAD:main");
}

async function treeOf(remote: string): Promise<string[]> {
  return (await git(remote, "ls-tree", "-r", "--name-only", "main")).split("\n").filter(Boolean);
}

describe("gitops sync: ownership, relative target, --allow-empty", function () {
  const temp = tempDirs();
  let root: string;
  let specs: string;
  let remote: string;
  const sync = (extra: Partial<SyncOptions> = {}) => gitopsSync({ specs, target: remote, branch: "main", push: true, ...extra });

  beforeEach(async () => {
    root = await temp.make("own");
    specs = path.join(root, "specs");
    await initRepo(specs);
    await writeSpec(specs, "alpha.yaml", runtimeYaml("alpha"));
    await writeSpec(specs, "beta.yaml", runtimeYaml("beta", { namespace: "team-b" }));
    await commitSpecs(specs, "two runtimes");
    remote = await initBare(path.join(root, "rendered.git"));
  });
  after(() => temp.cleanup());

  it("keeps an unrelated file shaped like a runtime file; still removes a dropped runtime", async () => {
    await sync();
    await commitByHand(remote, path.join(root, "c1"), {
      "argocd/apps/application.yaml": "kind: Application\n",
      "team-a/notes/readme.yaml": "x: 1\n",
    });
    await removeSpec(specs, "beta.yaml");
    await commitSpecs(specs, "drop beta");
    const result = await sync();
    expect(result.changes.removed).to.deep.equal(["team-b/beta"]);
    const tree = await treeOf(remote);
    expect(tree).to.include.members(["argocd/apps/application.yaml", "team-a/notes/readme.yaml", "team-a/alpha/values.yaml"]);
    expect(tree.filter((f) => f.startsWith("team-b/"))).to.deep.equal([]);
    // Nor are they reported as runtimes of the render.
    expect(result.changes.added).to.deep.equal([]);
  });

  it("a render at the root leaves another prefix's render alone", async () => {
    const other = path.join(root, "other-specs");
    await initRepo(other);
    await writeSpec(other, "gamma.yaml", runtimeYaml("gamma", { namespace: "team-c" }));
    await commitSpecs(other, "gamma");
    await gitopsSync({ specs: other, target: remote, branch: "main", push: true, prefix: "clusters/b" });
    await sync();
    const before = (await treeOf(remote)).filter((f) => f.startsWith("clusters/b/"));
    expect(before).to.include.members([
      "clusters/b/kustomization.yaml",
      "clusters/b/xtrinode-gitops.yaml",
      "clusters/b/team-c/gamma/values.yaml",
    ]);
    await removeSpec(specs, "alpha.yaml");
    await commitSpecs(specs, "drop alpha");
    const result = await sync();
    expect(result.changes.removed).to.deep.equal(["team-a/alpha"]);
    expect(result.changes.shared).to.deep.equal(["_gateway/configmap-trino-gateway-routes.yaml", "kustomization.yaml"]);
    const after = await treeOf(remote);
    expect(after.filter((f) => f.startsWith("clusters/b/"))).to.deep.equal(before);
    expect(after.filter((f) => f.startsWith("team-a/"))).to.deep.equal([]);
    // And the other way round: a sync of the prefix keeps the root render.
    await removeSpec(other, "gamma.yaml");
    await writeSpec(other, "delta.yaml", runtimeYaml("delta", { namespace: "team-c" }));
    await commitSpecs(other, "gamma → delta");
    const prefixed = await gitopsSync({ specs: other, target: remote, branch: "main", push: true, prefix: "clusters/b" });
    expect(prefixed.changes.removed).to.deep.equal(["team-c/gamma"]);
    const last = await treeOf(remote);
    expect(last).to.include.members([
      "kustomization.yaml",
      "xtrinode-gitops.yaml",
      "team-b/beta/values.yaml",
      "clusters/b/team-c/delta/values.yaml",
    ]);
    expect(last.filter((f) => f.startsWith("clusters/b/team-c/gamma/"))).to.deep.equal([]);
  });

  it("a branch XTrinode never rendered (no metadata): nothing deleted, only written", async () => {
    await commitByHand(remote, path.join(root, "c2"), {
      "team-a/old/deployment-old.yaml": "kind: Deployment\n",
      "kustomization.yaml": "resources: [team-a/old/deployment-old.yaml]\n",
    });
    const result = await sync();
    expect(result.committed).to.equal(true);
    expect(result.changes.removed).to.deep.equal([]);
    expect(await treeOf(remote)).to.include.members(["team-a/old/deployment-old.yaml", "team-a/alpha/values.yaml"]);
  });

  it("--no-crds after a render with CRDs removes them (they were recorded)", async () => {
    await sync();
    expect((await treeOf(remote)).some((f) => f.startsWith("_crds/"))).to.equal(true);
    const result = await sync({ crds: false });
    expect(result.changes.shared.every((f) => f.startsWith("_crds/") || f === "kustomization.yaml")).to.equal(true);
    expect((await treeOf(remote)).some((f) => f.startsWith("_crds/"))).to.equal(false);
  });

  it("recordedPaths: the kustomization's manifests of the layout, plus each runtime's values.yaml; null without a GitOpsRender", () => {
    const metadata = "apiVersion: xtrinode.io/v1alpha1\nkind: GitOpsRender\n";
    const kustomization =
      "kind: Kustomization\nresources:\n  - _crds/a.yaml\n  - ns/rt/deployment-d.yaml\n  - ns/_namespace/resourcequota-q.yaml\n  - ../q/ns/rt/x.yaml\n  - other/a/b/c.yaml\n";
    expect([...recordedPaths(metadata, kustomization, "p")!].sort()).to.deep.equal([
      "p/_crds/a.yaml",
      "p/kustomization.yaml",
      "p/ns/_namespace/resourcequota-q.yaml",
      "p/ns/rt/deployment-d.yaml",
      "p/ns/rt/values.yaml",
      "p/xtrinode-gitops.yaml",
    ]);
    expect(recordedPaths(null, kustomization, "p")).to.equal(null);
    expect(recordedPaths("kind: Something\n", kustomization, "p")).to.equal(null);
    expect(recordedPaths(metadata, null, "p")).to.equal(null);
    expect(recordedPaths(metadata, "kind: Kustomization\nresources: nope\n", "p")).to.equal(null);
    expect(recordedPaths(metadata, "resources: [\n", "p")).to.equal(null);
  });

  it("resolveRemote: local paths from the cwd; URLs and user@host:path unchanged", () => {
    expect(resolveRemote("target.git", "/work/x")).to.equal("/work/x/target.git");
    expect(resolveRemote("../r/target.git", "/work/x")).to.equal("/work/r/target.git");
    expect(resolveRemote("/abs/target.git", "/work/x")).to.equal("/abs/target.git");
    expect(resolveRemote("./a:b", "/work/x")).to.equal("/work/x/a:b");
    for (const url of [
      "https://git.example/r.git",
      "ssh://git@git.example/r.git",
      "file:///srv/r.git",
      "git@github.com:org/r.git",
      "host:r.git",
    ])
      expect(resolveRemote(url, "/work/x")).to.equal(url);
  });

  it("CLI: --target as a path relative to the current directory", async () => {
    const result = await runCli(["gitops", "sync", "--specs", "specs", "--target", "rendered.git", "--branch", "main", "--push"], {
      cwd: root,
    });
    expect(result.stderr).to.equal("");
    expect(result.code).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.include({ event: "committed", pushed: true, added: ["team-a/alpha", "team-b/beta"] });
    expect(await commitCount(remote)).to.equal(1);
  });

  it("a spec set with no XTrinode is refused unless allowEmpty (then every runtime is removed)", async () => {
    await sync();
    await removeSpec(specs, "alpha.yaml");
    await removeSpec(specs, "beta.yaml");
    await writeSpec(specs, "runtimes.yaml", "# no runtimes for now\n");
    await commitSpecs(specs, "no runtimes");
    let error: Error | undefined;
    await sync().catch((e: Error) => (error = e));
    expect(error?.message).to.match(/no XTrinode documents.*remove every runtime.*--allow-empty/);
    expect(await commitCount(remote)).to.equal(1);
    const result = await sync({ allowEmpty: true });
    expect(result.changes.removed).to.deep.equal(["team-a/alpha", "team-b/beta"]);
    expect((await treeOf(remote)).filter((f) => f.startsWith("team-"))).to.deep.equal([]);
  });

  it("CLI --allow-empty: without it exit 1 naming the flag, nothing committed; with it the runtimes go", async () => {
    await sync();
    const empty = path.join(root, "empty");
    await initRepo(empty);
    await writeSpec(empty, "catalogs.yaml", secretCatalogYaml("warehouse"));
    await commitSpecs(empty, "empty");
    const args = ["gitops", "sync", "--specs", empty, "--target", remote, "--branch", "main", "--push"];
    const refused = await runCli(args);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(
      /^error: .*empty\/catalogs\.yaml: has no XTrinode documents; .*remove every runtime.*--allow-empty.*\nnothing committed\n$/,
    );
    expect(await commitCount(remote)).to.equal(1);
    const allowed = await runCli([...args, "--allow-empty"]);
    expect(allowed.code, allowed.stderr).to.equal(0);
    expect(JSON.parse(allowed.stdout)).to.deep.include({ event: "committed", removed: ["team-a/alpha", "team-b/beta"] });
    const help = await runCli(["gitops", "sync", "--help"]);
    expect(help.stdout).to.match(/--allow-empty\s+allow a spec set with no XTrinode \(removes\s+every\s+runtime\)/);
  });
});
