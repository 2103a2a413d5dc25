// Pure parts of the GitOps sink: which paths it owns, tree changes, commit message, restart reasons.
import { expect } from "chai";
import { restartReasons } from "../../reconciler/gitops/diff.ts";
import { formatMarkdown } from "../../reconciler/gitops/diff-format.ts";
import { withoutCredentials } from "../../reconciler/gitops/git.ts";
import { commitMessage, isManagedPath, normalisePrefix, planTreeChange, runtimeChanges } from "../../reconciler/gitops/tree.ts";

describe("gitops tree (pure)", () => {
  it("owns only its layout under the prefix", () => {
    for (const file of [
      "p/kustomization.yaml",
      "p/xtrinode-gitops.yaml",
      "p/_crds/a.yaml",
      "p/_gateway/x.yaml",
      "p/ns/rt/values.yaml",
      "p/ns/_namespace/resourcequota-q.yaml",
    ])
      expect(isManagedPath(file, "p"), file).to.equal(true);
    for (const file of [
      "p/README.md",
      "README.md",
      "p/.github/workflows/x.yaml",
      "q/ns/rt/values.yaml",
      "p/ns/rt/notes.md",
      "p/Docs/x/y.yaml",
      "p/a/b/c/d.yaml",
    ])
      expect(isManagedPath(file, "p"), file).to.equal(false);
    expect(normalisePrefix("/clusters//east/")).to.equal("clusters/east");
    expect(normalisePrefix(undefined)).to.equal("");
    expect(normalisePrefix("../../x")).to.equal("x");
  });

  it("plans writes and deletes, and names runtimes added/changed/removed; metadata alone is no change", () => {
    const before = new Map([
      ["a/x/values.yaml", "1"],
      ["a/y/values.yaml", "1"],
      ["xtrinode-gitops.yaml", "m1"],
      ["kustomization.yaml", "k"],
    ]);
    const after = new Map([
      ["a/x/values.yaml", "2"],
      ["a/z/values.yaml", "1"],
      ["xtrinode-gitops.yaml", "m2"],
      ["kustomization.yaml", "k"],
    ]);
    expect(planTreeChange(before, after)).to.deep.equal({
      writes: [
        ["a/x/values.yaml", "2"],
        ["a/z/values.yaml", "1"],
        ["xtrinode-gitops.yaml", "m2"],
      ],
      deletes: ["a/y/values.yaml"],
    });
    expect(runtimeChanges(before, after, "")).to.deep.equal({ added: ["a/z"], changed: ["a/x"], removed: ["a/y"], shared: [] });
    const onlyMetadata = new Map(before).set("xtrinode-gitops.yaml", "m3");
    expect(runtimeChanges(before, onlyMetadata, "")).to.deep.equal({ added: [], changed: [], removed: [], shared: [] });
    const message = commitMessage(
      { added: ["a/z"], changed: ["a/x"], removed: ["a/y"], shared: [] },
      { repo: "https://git.example/specs.git", commit: "0123456789abcdef0123", path: "specs", dirty: false },
    );
    expect(message.split("\n")[0]).to.equal("xtrinode: render 1 added, 1 changed, 1 removed from 0123456789ab");
    expect(message).to.include("Added:\n  - a/z\n").and.include("Removed:\n  - a/y\n").and.include("Source-Commit: 0123456789abcdef0123");
  });

  it("restart reasons: checksum, image and JVM changes; replicas alone restart nothing", () => {
    const deployment = (image: string, sum: string, replicas: number) =>
      `kind: Deployment\nmetadata: { name: d }\nspec:\n  replicas: ${replicas}\n  template:\n    metadata: { annotations: { checksum/worker-config: "${sum}" } }\n    spec: { containers: [{ name: trino, image: "${image}" }] }\n`;
    expect(restartReasons("n/r/deployment-d.yaml", deployment("t:1", "a", 1), deployment("t:1", "a", 5))).to.deep.equal([]);
    expect(restartReasons("n/r/deployment-d.yaml", deployment("t:1", "a", 1), deployment("t:2", "b", 1))).to.deep.equal([
      "Deployment d: checksum/worker-config changed (pods roll)",
      "Deployment d: image of trino t:1 → t:2",
    ]);
    const cm = (jvm: string) => `kind: ConfigMap\nmetadata: { name: c }\ndata: { jvm.config: "${jvm}", other: x }\n`;
    expect(restartReasons("n/r/configmap-c.yaml", cm("-Xmx1G"), cm("-Xmx2G"))).to.deep.equal([
      "ConfigMap c: JVM settings (jvm.config) changed",
    ]);
  });

  it("Markdown stays under the comment budget: patches beyond it become file lists", () => {
    const big = "+x\n".repeat(5000);
    const runtimes = ["n/a", "n/b"].map((runtime) => ({
      runtime,
      status: "added" as const,
      files: [{ file: `${runtime}/values.yaml`, status: "added" as const, patch: big }],
      objectsChanged: 0,
      restarts: [],
    }));
    const text = formatMarkdown(
      { runtimes, shared: [], summary: { added: 2, changed: 0, removed: 0, objectsChanged: 0 } },
      { base: "a", head: "b" },
      20_000,
    );
    expect(text.length).to.be.below(20_000);
    expect(text).to.include("Diff omitted (comment size limit)").and.include("`n/b/values.yaml` (added)");
  });

  it("strips credentials from repository URLs", () => {
    expect(withoutCredentials("https://x-access-token:s3cr3t@github.com/o/r.git")).to.equal("https://github.com/o/r.git");
    expect(withoutCredentials("git@github.com:o/r.git")).to.equal("git@github.com:o/r.git");
  });
});
