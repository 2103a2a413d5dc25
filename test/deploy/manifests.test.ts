// Every manifest in deploy/ is valid against the Kubernetes API schemas, and the Kustomize layout
// renders (with the test loader, test/deploy/kustomize.ts) into a complete, consistent install.
import { expect } from "chai";
import { readdirSync, existsSync } from "node:fs";
import path from "node:path";
import { validateManifest } from "./kube-schema.ts";
import { readManifestFile, resourceId, type KubeObject } from "./kustomize.ts";
import {
  build,
  defaultInstallDir,
  deployDir,
  exampleOverlayDir,
  kustomizationDirs,
  monitoringDir,
  manifestFiles,
  objectLabel,
  objectsOf,
  relative,
} from "./layout.ts";

const clusterScopedKinds = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"]);

describe("deploy/ manifests", () => {
  it("has the documented layout: deploy/ (CRDs + base + routes), base/, routes/, overlays/example/", () => {
    expect(kustomizationDirs().map(relative)).to.include.members(["deploy", "deploy/base", "deploy/routes", "deploy/overlays/example"]);
  });

  it("every manifest file validates against the Kubernetes schemas (unknown kinds and fields fail)", async () => {
    const problems: string[] = [];
    const files = manifestFiles();
    expect(files.length).to.be.greaterThan(5);
    for (const file of files) {
      for (const { object } of readManifestFile(file)) {
        for (const issue of await validateManifest(object))
          problems.push(`${relative(file)}: ${objectLabel(object)}: ${issue.path}: ${issue.message}`);
      }
    }
    expect(problems, problems.join("\n")).to.deep.equal([]);
  });

  it("every kustomization renders, and what it renders validates (patches and images included)", async () => {
    const problems: string[] = [];
    for (const dir of kustomizationDirs()) {
      for (const { object } of build(dir)) {
        for (const issue of await validateManifest(object))
          problems.push(`${relative(dir)}: ${objectLabel(object)}: ${issue.path}: ${issue.message}`);
      }
    }
    expect(problems, problems.join("\n")).to.deep.equal([]);
  });

  it("every manifest file is part of the default install, the example overlay or the optional monitoring folder", () => {
    const used = new Set(
      [...build(defaultInstallDir), ...build(exampleOverlayDir), ...build(monitoringDir)].map((resource) => resource.file),
    );
    const unused = manifestFiles().filter((file) => !used.has(file));
    expect(unused.map(relative), "files no kustomization includes (list them in a kustomization.yaml)").to.deep.equal([]);
  });

  it("the default install includes every generated CRD in deploy/crds/", () => {
    const crdDir = path.join(deployDir, "crds");
    const crdFiles = existsSync(crdDir)
      ? readdirSync(crdDir)
          .filter((name) => /\.ya?ml$/.test(name) && name !== "kustomization.yaml")
          .map((name) => path.join(crdDir, name))
      : [];
    const installed = new Set(build(defaultInstallDir).map((resource) => resource.file));
    expect(crdFiles.filter((file) => !installed.has(file)).map(relative)).to.deep.equal([]);
    for (const file of crdFiles)
      for (const { object } of readManifestFile(file)) expect(object.kind, relative(file)).to.equal("CustomResourceDefinition");
  });

  for (const dir of [defaultInstallDir, exampleOverlayDir]) {
    describe(`${relative(dir)} (rendered)`, () => {
      let objects: KubeObject[];
      before(() => {
        objects = objectsOf(dir);
      });

      it("sets a namespace on exactly the namespaced objects, and creates every namespace it uses", () => {
        const created = new Set(objects.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name));
        expect([...created].sort()).to.deep.equal(["xtrinode-gateway", "xtrinode-system"]);
        for (const object of objects) {
          if (clusterScopedKinds.has(object.kind)) expect(object.metadata.namespace, objectLabel(object)).to.equal(undefined);
          else {
            expect(object.metadata.namespace, `${objectLabel(object)} needs metadata.namespace`).to.be.a("string");
            expect(created.has(object.metadata.namespace), `${objectLabel(object)}: namespace not created`).to.equal(true);
          }
        }
      });

      it("labels every object as part of xtrinode", () => {
        for (const object of objects)
          expect(object.metadata.labels?.["app.kubernetes.io/part-of"], objectLabel(object)).to.equal("xtrinode");
      });

      it("has unique resource IDs", () => {
        const ids = objects.map(resourceId);
        expect(new Set(ids).size).to.equal(ids.length);
      });

      it("puts the operator and API server in xtrinode-system and the gateway in xtrinode-gateway", () => {
        const deployments = objects.filter((o) => o.kind === "Deployment");
        const where = Object.fromEntries(deployments.map((d) => [d.spec.template.spec.containers[0].args[0], d.metadata.namespace]));
        expect(where).to.deep.equal({ operator: "xtrinode-system", apiserver: "xtrinode-system", gateway: "xtrinode-gateway" });
      });

      it("selects each Service's pods with labels its Deployment sets, on a port the container declares", () => {
        for (const service of objects.filter((o) => o.kind === "Service")) {
          const targets = objects.filter(
            (o) =>
              o.kind === "Deployment" &&
              o.metadata.namespace === service.metadata.namespace &&
              Object.entries(service.spec.selector as Record<string, string>).every(([k, v]) => o.spec.template.metadata.labels?.[k] === v),
          );
          expect(targets.length, `${objectLabel(service)} selects no Deployment`).to.equal(1);
          const declared = targets[0].spec.template.spec.containers.flatMap((c: any) => c.ports ?? []);
          for (const port of service.spec.ports) {
            const hit = declared.find((p: any) => p.name === port.targetPort || p.containerPort === port.targetPort);
            expect(hit, `${objectLabel(service)} port ${port.name} targets ${port.targetPort}, not a container port`).to.not.equal(
              undefined,
            );
          }
        }
      });

      it("lets each PodDisruptionBudget's Deployment lose a pod (replicas > minAvailable), so drains never block", () => {
        const budgets = objects.filter((o) => o.kind === "PodDisruptionBudget");
        expect(budgets.length).to.be.greaterThan(0);
        for (const budget of budgets) {
          const selected = objects.filter(
            (o) =>
              o.kind === "Deployment" &&
              o.metadata.namespace === budget.metadata.namespace &&
              Object.entries(budget.spec.selector.matchLabels as Record<string, string>).every(
                ([k, v]) => o.spec.template.metadata.labels?.[k] === v,
              ),
          );
          expect(selected.length, objectLabel(budget)).to.equal(1);
          expect(selected[0].spec.replicas, objectLabel(budget)).to.be.greaterThan(budget.spec.minAvailable);
        }
      });

      it("selects each Deployment's own pods (selector ⊆ template labels)", () => {
        for (const deployment of objects.filter((o) => o.kind === "Deployment")) {
          const labels = deployment.spec.template.metadata.labels;
          for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels))
            expect(labels[key], objectLabel(deployment)).to.equal(value);
        }
      });
    });
  }

  describe("the example overlay", () => {
    it("points every container at the overlay's image and scales the gateway to 3", () => {
      const objects = objectsOf(exampleOverlayDir);
      const images = objects
        .filter((o) => o.kind === "Deployment")
        .flatMap((d) => d.spec.template.spec.containers.map((c: any) => c.image));
      expect(new Set(images)).to.deep.equal(new Set(["registry.example.com/platform/xtrinode:0.1.0"]));
      expect(objects.find((o) => o.kind === "Deployment" && o.metadata.name === "xtrinode-gateway")!.spec.replicas).to.equal(3);
    });

    it("exposes the gateway's Service through an Ingress", () => {
      const objects = objectsOf(exampleOverlayDir);
      const ingress = objects.find((o) => o.kind === "Ingress");
      expect(ingress?.metadata.namespace).to.equal("xtrinode-gateway");
      const backends = ingress!.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => p.backend.service));
      const service = objects.find((o) => o.kind === "Service" && o.metadata.name === "xtrinode-gateway")!;
      for (const backend of backends) {
        expect(backend.name).to.equal(service.metadata.name);
        expect(service.spec.ports.map((p: any) => p.name)).to.include(backend.port.name);
      }
    });

    it("lets the gateway's pods reach the API server's port through the NetworkPolicy", () => {
      const objects = objectsOf(exampleOverlayDir);
      const policy = objects.find((o) => o.kind === "NetworkPolicy" && o.metadata.name === "xtrinode-apiserver")!;
      const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
        Object.entries(selector).every(([k, v]) => labels[k] === v);
      const apiserver = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "xtrinode-apiserver")!;
      const gateway = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "xtrinode-gateway")!;
      expect(policy.metadata.namespace).to.equal(apiserver.metadata.namespace);
      expect(matches(policy.spec.podSelector.matchLabels, apiserver.spec.template.metadata.labels)).to.equal(true);
      // kubernetes.io/metadata.name is set by the API server on every Namespace.
      const gatewayPeers = policy.spec.ingress
        .flatMap((rule: any) => rule.from)
        .filter(
          (peer: any) =>
            peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === gateway.metadata.namespace &&
            matches(peer.podSelector?.matchLabels ?? {}, gateway.spec.template.metadata.labels),
        );
      expect(gatewayPeers).to.have.length(1);
      const portNames = apiserver.spec.template.spec.containers[0].ports.map((p: any) => p.name);
      for (const rule of policy.spec.ingress) for (const port of rule.ports) expect(portNames).to.include(port.port);
    });

    it("leaves the base install untouched (the loader copies nothing by reference)", () => {
      const base = objectsOf(defaultInstallDir).find((o) => o.kind === "Deployment" && o.metadata.name === "xtrinode-gateway")!;
      expect(base.spec.replicas).to.equal(2);
    });
  });
});
