// The two ConfigMaps the install ships: the operator's policy and the gateway's routes (no data: the operator writes it).
// Both are checked against their JSON Schemas and read back with the components' own parsers.
import { expect } from "chai";
import yaml from "js-yaml";
import { configIssues } from "../../gateway/config.ts";
import { renderNamespace, routesConfigMap } from "../../renderer/index.ts";
import { defaultGatewayNamespace, routesConfigMapName, routesDataKey } from "../../schemas/api/index.ts";
import { policyConfigMapName, policyDataKey, operatorNamespace } from "../../reconciler/constants.ts";
import { parsePolicyText } from "../../reconciler/policy.ts";
import { emptyRoutes, parseRoutes } from "../../reconciler/routes.ts";
import { validateAgainstSchema } from "../../schemas/validate.ts";
import { validateManifest } from "./kube-schema.ts";
import { defaultInstallDir, deployDir, exampleOverlayDir, objectsOf } from "./layout.ts";
import path from "node:path";
import type { KubeObject } from "./kustomize.ts";

function configMap(objects: KubeObject[], namespace: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === "ConfigMap" && o.metadata.namespace === namespace && o.metadata.name === name);
  if (!found) throw new Error(`ConfigMap ${namespace}/${name} is not in the install`);
  return found;
}

describe("deploy/ ConfigMaps", () => {
  for (const dir of [defaultInstallDir, exampleOverlayDir]) {
    describe(dir.endsWith("example") ? "example overlay" : "default install", () => {
      it(`ships ${operatorNamespace}/${policyConfigMapName} with a valid XTrinodePolicy that the operator loads`, () => {
        const data = configMap(objectsOf(dir), operatorNamespace, policyConfigMapName).data;
        expect(Object.keys(data)).to.deep.equal([policyDataKey]);
        const doc = yaml.load(data[policyDataKey]);
        expect(validateAgainstSchema("XTrinodePolicy", doc)).to.deep.equal([]);
        expect(parsePolicyText(data[policyDataKey], "policy")).to.deep.equal(doc);
      });

      it("whose guardrails render into valid Kubernetes objects for a team namespace", async () => {
        const policy = parsePolicyText(configMap(objectsOf(dir), operatorNamespace, policyConfigMapName).data[policyDataKey], "policy");
        const guardrails = renderNamespace("team-a", policy) as unknown as KubeObject[];
        expect(guardrails.map((o) => o.kind).sort()).to.deep.equal(["LimitRange", "ResourceQuota"]);
        for (const object of guardrails) expect(await validateManifest(object), object.kind).to.deep.equal([]);
      });

      it("ships a valid gateway config (schemas/gateway-config.schema.json)", () => {
        const data = configMap(objectsOf(dir), defaultGatewayNamespace, "xtrinode-gateway-config").data;
        const doc = yaml.load(data["gateway.yaml"]) ?? {};
        expect(configIssues(doc)).to.deep.equal([]);
        if (dir === exampleOverlayDir) expect((doc as { trustedProxies: string[] }).trustedProxies).to.not.be.empty;
      });

      it(`ships ${defaultGatewayNamespace}/${routesConfigMapName} without data: ${routesDataKey} is the operator's alone, so a re-apply never conflicts with it`, () => {
        const routes = configMap(objectsOf(dir), defaultGatewayNamespace, routesConfigMapName);
        expect(routes).to.not.have.property("data");
        // The operator reads the missing key as the empty document it then extends.
        expect(parseRoutes(undefined)).to.deep.equal(emptyRoutes());
      });
    });
  }

  it("base/ alone carries neither the routes ConfigMap nor the CRDs, which GitOps mode's rendered repository owns", () => {
    const base = objectsOf(path.join(deployDir, "base"));
    const rendered = routesConfigMap(emptyRoutes(), defaultGatewayNamespace) as unknown as KubeObject;
    const installed = configMap(objectsOf(defaultInstallDir), defaultGatewayNamespace, routesConfigMapName);
    // The same object either way, so exactly one of the two sources must apply it.
    expect([rendered.metadata.namespace, rendered.metadata.name]).to.deep.equal([installed.metadata.namespace, installed.metadata.name]);
    expect(Object.keys(rendered.data)).to.deep.equal([routesDataKey]);
    expect(
      base.filter((o) => (o.kind === "ConfigMap" && o.metadata.name === routesConfigMapName) || o.kind === "CustomResourceDefinition"),
    ).to.deep.equal([]);
  });

  it("the schema check can fail: a routes document with an entry missing its backend is rejected", () => {
    const bad = { ...emptyRoutes(), routes: [{ name: "a", namespace: "team-a", state: "RUNNING" }] };
    expect(validateAgainstSchema("GatewayRoutes", bad).map((issue) => issue.path)).to.deep.equal(["routes[0].backend"]);
  });
});
