// The test loader must behave like Kustomize for the features it accepts and refuse the rest,
// or the manifest tests would check something other than what `kubectl apply -k` installs.
import { expect } from "chai";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildKustomization, parseImage } from "./kustomize.ts";

const deployment = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: app, namespace: ns }
spec:
  replicas: 1
  selector: { matchLabels: { app: a } }
  template:
    metadata: { labels: { app: a } }
    spec:
      initContainers: [{ name: init, image: "${image}" }]
      containers: [{ name: main, image: "${image}" }, { name: side, image: "other:1" }]
`;

describe("test Kustomize loader", () => {
  let root: string;
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), "kustomize-test-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("loads multi-document files and nested kustomizations in order, adding labels to metadata only", () => {
    write("base/app.yaml", `${deployment("app:1")}---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: c, namespace: ns }\n`);
    write("base/kustomization.yaml", "resources: [app.yaml]\nlabels: [{ pairs: { team: x } }]\n");
    write("kustomization.yaml", "resources: [base]\n");
    const objects = buildKustomization(root).map((r) => r.object);
    expect(objects.map((o) => o.kind)).to.deep.equal(["Deployment", "ConfigMap"]);
    expect(objects[1].metadata.labels).to.deep.equal({ team: "x" });
    expect(objects[0].spec.selector.matchLabels).to.deep.equal({ app: "a" });
    expect(objects[0].spec.template.metadata.labels).to.deep.equal({ app: "a" });
  });

  it("rewrites matching container and initContainer images only", () => {
    write("app.yaml", deployment("app:1"));
    write("kustomization.yaml", "resources: [app.yaml]\nimages: [{ name: app, newName: reg.example/app, newTag: '2' }]\n");
    const [object] = buildKustomization(root).map((r) => r.object);
    const spec = object.spec.template.spec;
    expect([spec.initContainers[0].image, spec.containers[0].image, spec.containers[1].image]).to.deep.equal([
      "reg.example/app:2",
      "reg.example/app:2",
      "other:1",
    ]);
  });

  it("applies JSON 6902 patches to their target and fails on a target that matches nothing", () => {
    write("app.yaml", deployment("app:1"));
    write(
      "kustomization.yaml",
      "resources: [app.yaml]\npatches:\n  - target: { kind: Deployment, name: app }\n    patch: |\n      - { op: replace, path: /spec/replicas, value: 4 }\n      - { op: add, path: /spec/template/spec/containers/-, value: { name: x, image: x } }\n      - { op: remove, path: /spec/template/spec/initContainers }\n",
    );
    const [object] = buildKustomization(root).map((r) => r.object);
    expect(object.spec.replicas).to.equal(4);
    expect(object.spec.template.spec.containers.map((c: { name: string }) => c.name)).to.deep.equal(["main", "side", "x"]);
    expect(object.spec.template.spec.initContainers).to.equal(undefined);
    write("kustomization.yaml", "resources: [app.yaml]\npatches:\n  - target: { kind: Deployment, name: nope }\n    patch: '[]'\n");
    expect(() => buildKustomization(root)).to.throw(/matches no resource/);
  });

  it("refuses fields it does not implement, naming them", () => {
    write("app.yaml", deployment("app:1"));
    write("kustomization.yaml", "resources: [app.yaml]\nnamespace: other\n");
    expect(() => buildKustomization(root)).to.throw(/field "namespace" is not supported/);
    write("kustomization.yaml", "resources: [app.yaml]\nlabels: [{ pairs: { a: b }, includeSelectors: true }]\n");
    expect(() => buildKustomization(root)).to.throw(/includeSelectors/);
  });

  it("refuses what Kustomize refuses: files outside the root, duplicate IDs, missing resources, an including ancestor", () => {
    write("app.yaml", deployment("app:1"));
    write("sub/kustomization.yaml", "resources: [../app.yaml]\n");
    expect(() => buildKustomization(path.join(root, "sub"))).to.throw(/outside the kustomization/);
    write("copy.yaml", deployment("app:2"));
    write("kustomization.yaml", "resources: [app.yaml, copy.yaml]\n");
    expect(() => buildKustomization(root)).to.throw(/appears twice/);
    write("kustomization.yaml", "resources: [missing.yaml]\n");
    expect(() => buildKustomization(root)).to.throw(/does not exist/);
    // An overlay inside the directory it includes ("cycle detected: candidate root contains visited root").
    write("kustomization.yaml", "resources: [app.yaml]\n");
    write("overlays/x/kustomization.yaml", "resources: [../..]\n");
    expect(() => buildKustomization(path.join(root, "overlays/x"))).to.throw(/contains this kustomization's own directory/);
  });

  it("parses image references with registry ports, tags and digests", () => {
    expect(parseImage("reg:5000/team/app:1.2")).to.deep.equal({ name: "reg:5000/team/app", tag: "1.2", digest: undefined });
    expect(parseImage("reg:5000/team/app")).to.deep.equal({ name: "reg:5000/team/app", digest: undefined });
    expect(parseImage("app@sha256:abc")).to.deep.equal({ name: "app", digest: "sha256:abc" });
  });
});
