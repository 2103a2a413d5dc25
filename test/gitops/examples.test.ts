// The example CI workflow, Argo CD Application and Flux objects parse and point where the docs say.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import path from "node:path";
import yaml from "js-yaml";
import { repoRoot } from "./support.ts";

async function load(file: string): Promise<Array<Record<string, any>>> {
  return yaml.loadAll(await readFile(path.join(repoRoot, "examples", file), "utf8")) as Array<Record<string, any>>;
}

describe("GitOps examples", () => {
  it("CI workflow: validate + markdown diff on pull requests, sync --push on merge", async () => {
    const [workflow] = await load("ci/xtrinode-gitops.yaml");
    expect(workflow.on).to.have.keys("pull_request", "push");
    const runs = (job: string) => (workflow.jobs[job].steps as Array<{ run?: string }>).map((s) => s.run ?? "").join("\n");
    expect(runs("pull-request"))
      .to.match(/\$XTRINODE validate specs/)
      .and.match(/\$XTRINODE diff --base .* --format markdown/)
      .and.match(/gh pr comment/);
    expect(runs("sync")).to.match(/\$XTRINODE gitops sync --specs specs .*\n.*--push/);
    expect(workflow.jobs["pull-request"].if).to.include("pull_request");
    expect(workflow.jobs.sync.if).to.include("push");
    expect(workflow.jobs["pull-request"].steps[0].with["fetch-depth"]).to.equal(0);
  });

  it("Argo CD Application and Flux Kustomization read the rendered repository's prefix", async () => {
    const [app] = await load("argocd/application.yaml");
    expect(app).to.include({ apiVersion: "argoproj.io/v1alpha1", kind: "Application" });
    expect(app.spec.source).to.include({ path: "clusters/prod", targetRevision: "main" });
    expect(app.spec.syncPolicy.automated.prune).to.equal(true);
    const [source, kustomization] = await load("flux/xtrinode-rendered.yaml");
    expect(source).to.include({ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository" });
    expect(kustomization).to.include({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization" });
    expect(kustomization.spec.sourceRef).to.deep.equal({ kind: "GitRepository", name: source.metadata.name });
    expect(kustomization.spec.path).to.equal("./clusters/prod");
    expect(source.spec.url).to.equal(app.spec.source.repoURL);
  });
});
