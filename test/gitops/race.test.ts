// Two syncs pushing to the same remote at once: both changes land, one commit each, nothing duplicated.
import { expect } from "chai";
import path from "node:path";
import { gitopsSync } from "../../reconciler/gitops/sync.ts";
import { commitCount, commitSpecs, git, initBare, initRepo, runCli, runtimeYaml, tempDirs, writeSpec } from "./support.ts";

describe("gitops sync: concurrent syncs", function () {
  const temp = tempDirs();
  let root: string;
  let remote: string;
  let east: string;
  let west: string;

  beforeEach(async () => {
    root = await temp.make("race");
    remote = await initBare(path.join(root, "rendered.git"));
    east = path.join(root, "east");
    west = path.join(root, "west");
    for (const [dir, name] of [
      [east, "orders"],
      [west, "billing"],
    ]) {
      await initRepo(dir);
      await writeSpec(dir, `${name}.yaml`, runtimeYaml(name));
      await commitSpecs(dir, name);
    }
  });
  after(() => temp.cleanup());

  it("a push rejected because the remote moved is re-planned on the new head and retried once", async () => {
    let westResult: Awaited<ReturnType<typeof gitopsSync>> | undefined;
    const eastResult = await gitopsSync({
      specs: east,
      target: remote,
      branch: "main",
      prefix: "clusters/east",
      push: true,
      // Before east's first push, west syncs and pushes: east's push is then a non-fast-forward.
      beforePush: async (attempt) => {
        if (attempt === 0)
          westResult = await gitopsSync({ specs: west, target: remote, branch: "main", prefix: "clusters/west", push: true });
      },
    });
    expect(westResult!.committed).to.equal(true);
    expect(eastResult.committed).to.equal(true);
    expect(eastResult.retries).to.equal(1);
    expect(await commitCount(remote)).to.equal(2);
    const tree = await git(remote, "ls-tree", "-r", "--name-only", "main");
    expect(tree).to.include("clusters/east/team-a/orders/values.yaml").and.include("clusters/west/team-a/billing/values.yaml");
    // East's commit sits on top of west's: west's files are in east's commit's tree, not rewritten.
    expect(await git(remote, "log", "--format=%s", "main")).to.match(/from [0-9a-f]{12}\n.*from [0-9a-f]{12}\n$/);
    expect(
      (await git(remote, "show", "--name-only", "--format=", "main"))
        .split("\n")
        .filter(Boolean)
        .every((f) => f.startsWith("clusters/east/")),
    ).to.equal(true);
  });

  it("a sync of an older spec commit never replaces the render of a newer one (late CI job)", async () => {
    await writeSpec(east, "orders.yaml", runtimeYaml("orders", { workers: 2 }));
    const newer = await commitSpecs(east, "orders: 2 workers");
    expect((await gitopsSync({ specs: east, target: remote, branch: "main", push: true })).committed).to.equal(true);
    // A clone of the spec repository checked out at the older commit (it knows the newer one too).
    const late = path.join(root, "late");
    await git(root, "clone", "--quiet", east, late);
    await git(late, "checkout", "--quiet", "HEAD~1");
    const result = await gitopsSync({ specs: late, target: remote, branch: "main", push: true });
    expect(result).to.deep.include({ committed: false, superseded: newer });
    expect(await commitCount(remote)).to.equal(1);
    expect(await git(remote, "show", "main:team-a/orders/deployment-orders-trino-worker.yaml")).to.include("replicas: 2");
  });

  it("gives up after --max-retries rejected pushes", async () => {
    let n = 0;
    const attempt = gitopsSync({
      specs: east,
      target: remote,
      branch: "main",
      push: true,
      maxRetries: 1,
      // Every push attempt is overtaken by another commit to the branch.
      beforePush: async () => {
        await writeSpec(west, "billing.yaml", runtimeYaml("billing", { workers: ++n }));
        await commitSpecs(west, `billing ${n}`);
        await gitopsSync({ specs: west, target: remote, branch: "main", prefix: "other", push: true });
      },
    });
    let error: unknown;
    try {
      await attempt;
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.match(/rejected|fetch first|non-fast-forward/);
    expect(await git(remote, "ls-tree", "-r", "--name-only", "main")).not.to.include("team-a/orders/");
  });

  it("two sync processes racing: both prefixes present, one commit each; two syncs of the same specs make one commit", async () => {
    const args = (specs: string, prefix: string) => [
      "gitops",
      "sync",
      "--specs",
      specs,
      "--target",
      remote,
      "--branch",
      "main",
      "--path-prefix",
      prefix,
      "--push",
    ];
    const [a, b] = await Promise.all([runCli(args(east, "clusters/east")), runCli(args(west, "clusters/west"))]);
    expect(a.code, a.stderr).to.equal(0);
    expect(b.code, b.stderr).to.equal(0);
    expect(await commitCount(remote)).to.equal(2);
    const tree = await git(remote, "ls-tree", "-r", "--name-only", "main");
    expect(tree).to.include("clusters/east/team-a/orders/values.yaml").and.include("clusters/west/team-a/billing/values.yaml");

    // Same specs, same prefix, at once: whoever pushes second finds nothing left to commit.
    await writeSpec(east, "orders.yaml", runtimeYaml("orders", { workers: 4 }));
    await commitSpecs(east, "orders: 4 workers");
    const same = () => gitopsSync({ specs: east, target: remote, branch: "main", prefix: "clusters/east", push: true });
    const results = await Promise.all([same(), same()]);
    expect(results.map((r) => r.committed).sort()).to.deep.equal([false, true]);
    expect(await commitCount(remote)).to.equal(3);
  });
});
