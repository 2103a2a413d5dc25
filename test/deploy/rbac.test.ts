// Least-privilege RBAC: each component gets what its code calls on the Kubernetes API and nothing
// dangerous. Required permissions come from the components' own constants where they exist, so a
// kind the operator starts managing without an RBAC rule fails here, not in a cluster.
import { expect } from "chai";
import { defaultAuthzConfig } from "../../apiserver/auth.ts";
import { defaultGatewayNamespace, routesConfigMapName } from "../../schemas/api/index.ts";
import { leaseName, operatorNamespace, policyConfigMapName, prunableKinds } from "../../reconciler/constants.ts";
import { defaultInstallDir, exampleOverlayDir, objectLabel, objectsOf } from "./layout.ts";
import type { KubeObject } from "./kustomize.ts";
import { allows, rulesFor, type GrantedRule, type Request } from "./rbac.ts";

const writeVerbs = ["create", "update", "patch", "delete", "deletecollection"];
const readVerbs = ["get", "list", "watch"];

function groupOf(apiVersion: string): string {
  return apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
}

/** The REST resource of a kind (every kind XTrinode touches pluralises regularly). */
function resourceOf(kind: string): string {
  return `${kind.toLowerCase()}s`;
}

function serviceAccountOf(objects: KubeObject[], command: string): { namespace: string; name: string } {
  const deployment = objects.find((o) => o.kind === "Deployment" && o.spec.template.spec.containers[0].args[0] === command);
  if (!deployment) throw new Error(`no Deployment runs "${command}"`);
  return { namespace: deployment.metadata.namespace, name: deployment.spec.template.spec.serviceAccountName };
}

function rulesOfCommand(objects: KubeObject[], command: string): GrantedRule[] {
  const sa = serviceAccountOf(objects, command);
  return rulesFor(objects, sa.namespace, sa.name);
}

function missing(rules: GrantedRule[], requests: Request[]): string[] {
  return requests.filter((request) => !allows(rules, request)).map((r) => JSON.stringify(r));
}

function granted(rules: GrantedRule[], requests: Request[]): string[] {
  return requests.filter((request) => allows(rules, request)).map((r) => JSON.stringify(r));
}

describe("deploy/ RBAC", () => {
  for (const dir of [defaultInstallDir, exampleOverlayDir]) {
    describe(dir.endsWith("example") ? "example overlay" : "default install", () => {
      let objects: KubeObject[];
      let roles: KubeObject[];
      before(() => {
        objects = objectsOf(dir);
        roles = objects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
      });

      it("uses no wildcards, no non-resource URLs and no escalation verbs", () => {
        expect(roles.length).to.be.greaterThan(0);
        for (const role of roles) {
          for (const rule of role.rules ?? []) {
            for (const field of ["verbs", "resources", "apiGroups", "resourceNames"]) {
              expect(rule[field] ?? [], `${objectLabel(role)} ${field}`).to.not.include("*");
            }
            expect(rule.nonResourceURLs, objectLabel(role)).to.equal(undefined);
            for (const verb of ["escalate", "bind", "impersonate"]) expect(rule.verbs, objectLabel(role)).to.not.include(verb);
            expect(rule.apiGroups, `${objectLabel(role)} must not touch RBAC`).to.not.include("rbac.authorization.k8s.io");
          }
        }
      });

      it("binds only its own roles (never cluster-admin, admin or edit) to its own ServiceAccounts", () => {
        const serviceAccounts = new Set(
          objects.filter((o) => o.kind === "ServiceAccount").map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
        );
        for (const binding of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
          expect(["cluster-admin", "admin", "edit", "view"], objectLabel(binding)).to.not.include(binding.roleRef.name);
          expect(
            roles.some((r) => r.kind === binding.roleRef.kind && r.metadata.name === binding.roleRef.name),
            `${objectLabel(binding)} roleRef`,
          ).to.equal(true);
          for (const subject of binding.subjects) {
            expect(subject.kind, objectLabel(binding)).to.equal("ServiceAccount");
            expect(serviceAccounts.has(`${subject.namespace}/${subject.name}`), `${objectLabel(binding)} subject ${subject.name}`).to.equal(
              true,
            );
          }
        }
        for (const deployment of objects.filter((o) => o.kind === "Deployment")) {
          const name = deployment.spec.template.spec.serviceAccountName;
          expect(serviceAccounts.has(`${deployment.metadata.namespace}/${name}`), `${objectLabel(deployment)} serviceAccountName`).to.equal(
            true,
          );
        }
      });

      it("lets nothing write Secrets (read only, for the operator's reference checks)", () => {
        for (const role of roles) {
          for (const rule of role.rules ?? []) {
            if (!(rule.resources ?? []).includes("secrets")) continue;
            expect(
              rule.verbs.filter((verb: string) => !readVerbs.includes(verb)),
              objectLabel(role),
            ).to.deep.equal([]);
          }
        }
        for (const command of ["apiserver", "gateway"]) {
          expect(
            granted(
              rulesOfCommand(objects, command),
              readVerbs.map((verb) => ({ verb, group: "", resource: "secrets", namespace: "team-a", name: "db" })),
            ),
            command,
          ).to.deep.equal([]);
        }
      });

      describe("operator", () => {
        let rules: GrantedRule[];
        before(() => {
          rules = rulesOfCommand(objects, "operator");
        });

        it("may apply, read and prune every kind the reconciler manages, in any namespace", () => {
          const kinds = [...prunableKinds, { apiVersion: "v1", kind: "ResourceQuota" }, { apiVersion: "v1", kind: "LimitRange" }];
          const requests = kinds.flatMap(({ apiVersion, kind }) =>
            ["get", "list", "watch", "create", "update", "patch", "delete"].map((verb) => ({
              verb,
              group: groupOf(apiVersion),
              resource: resourceOf(kind),
              namespace: "team-a",
              name: "x",
            })),
          );
          expect(missing(rules, requests)).to.deep.equal([]);
        });

        it("may read its resources, set finalizers and write status", () => {
          const requests: Request[] = [];
          for (const resource of ["xtrinodes", "xtrinodecatalogs"]) {
            for (const verb of ["get", "list", "watch", "update", "patch"])
              requests.push({ verb, group: "xtrinode.io", resource, namespace: "team-a" });
          }
          for (const verb of ["get", "update", "patch"])
            requests.push({ verb, group: "xtrinode.io", resource: "xtrinodes/status", namespace: "team-a" });
          expect(missing(rules, requests)).to.deep.equal([]);
          expect(
            granted(rules, [
              { verb: "delete", group: "xtrinode.io", resource: "xtrinodes", namespace: "team-a" },
              { verb: "create", group: "xtrinode.io", resource: "xtrinodes", namespace: "team-a" },
            ]),
          ).to.deep.equal([]);
        });

        it("may publish routes, read the policy, read Secrets, record Events and hold its leader Lease", () => {
          expect(
            missing(rules, [
              ...["get", "create", "update"].map((verb) => ({
                verb,
                group: "",
                resource: "configmaps",
                namespace: defaultGatewayNamespace,
                name: routesConfigMapName,
              })),
              ...readVerbs.map((verb) => ({
                verb,
                group: "",
                resource: "configmaps",
                namespace: operatorNamespace,
                name: policyConfigMapName,
              })),
              ...readVerbs.map((verb) => ({ verb, group: "", resource: "secrets", namespace: "team-a", name: "db" })),
              { verb: "create", group: "", resource: "events", namespace: "team-a" },
              ...["get", "update"].map((verb) => ({
                verb,
                group: "coordination.k8s.io",
                resource: "leases",
                namespace: operatorNamespace,
                name: leaseName,
              })),
              { verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: operatorNamespace },
            ]),
          ).to.deep.equal([]);
        });

        it("may not touch other Leases, other namespaces' Leases, Pods, Nodes, Namespaces or CRDs", () => {
          expect(
            granted(rules, [
              { verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: operatorNamespace, name: "someone-else" },
              { verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: "team-a" },
              { verb: "create", group: "", resource: "pods/exec", namespace: "team-a" },
              { verb: "delete", group: "", resource: "pods", namespace: "team-a" },
              { verb: "get", group: "", resource: "nodes" },
              { verb: "delete", group: "", resource: "namespaces", name: "team-a" },
              { verb: "update", group: "apiextensions.k8s.io", resource: "customresourcedefinitions", name: "xtrinodes.xtrinode.io" },
            ]),
          ).to.deep.equal([]);
        });
      });

      describe("API server", () => {
        let rules: GrantedRule[];
        before(() => {
          rules = rulesOfCommand(objects, "apiserver");
        });

        it("may read and patch XTrinodes, gate resumes with Leases and review tokens", () => {
          expect(
            missing(rules, [
              ...["get", "list", "patch"].map((verb) => ({
                verb,
                group: "xtrinode.io",
                resource: "xtrinodes",
                namespace: "team-a",
                name: "analytics",
              })),
              { verb: "list", group: "xtrinode.io", resource: "xtrinodes" },
              ...["get", "create", "update", "delete"].map((verb) => ({
                verb,
                group: "coordination.k8s.io",
                resource: "leases",
                namespace: "xtrinode-system",
                name: "xtrinode-resume.team-a.analytics",
              })),
              { verb: "create", group: "authentication.k8s.io", resource: "tokenreviews" },
              // The console's runtime view: catalogs in use and recent Events.
              { verb: "list", group: "xtrinode.io", resource: "xtrinodecatalogs", namespace: "team-a" },
              { verb: "list", group: "", resource: "events", namespace: "team-a" },
              { verb: "create", group: "", resource: "events", namespace: "team-a" },
            ]),
          ).to.deep.equal([]);
        });

        it("may not replace, delete or create XTrinodes, write their status, read ConfigMaps, write catalogs, or change Events", () => {
          expect(
            granted(rules, [
              ...["update", "delete", "create"].map((verb) => ({
                verb,
                group: "xtrinode.io",
                resource: "xtrinodes",
                namespace: "team-a",
                name: "analytics",
              })),
              { verb: "update", group: "xtrinode.io", resource: "xtrinodes/status", namespace: "team-a", name: "analytics" },
              { verb: "get", group: "", resource: "configmaps", namespace: defaultGatewayNamespace, name: routesConfigMapName },
              { verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews" },
              ...["create", "update", "patch", "delete"].map((verb) => ({
                verb,
                group: "xtrinode.io",
                resource: "xtrinodecatalogs",
                namespace: "team-a",
                name: "sales",
              })),
              ...["update", "patch", "delete"].map((verb) => ({ verb, group: "", resource: "events", namespace: "team-a" })),
              { verb: "get", group: "", resource: "secrets", namespace: "team-a", name: "sales-db" },
            ]),
          ).to.deep.equal([]);
        });

        it("lets the gateway's ServiceAccount resume by default (apiserver/auth.ts default allow-list)", () => {
          const sa = serviceAccountOf(objects, "gateway");
          expect(defaultAuthzConfig.resume).to.include(`system:serviceaccount:${sa.namespace}:${sa.name}`);
          expect(defaultAuthzConfig.activity).to.include(`system:serviceaccount:${sa.namespace}:${sa.name}`);
        });
      });

      describe("gateway", () => {
        let rules: GrantedRule[];
        before(() => {
          expect(serviceAccountOf(objects, "gateway").namespace).to.equal(defaultGatewayNamespace);
          rules = rulesOfCommand(objects, "gateway");
        });

        it("may get, list and watch the routes ConfigMap by name", () => {
          expect(
            missing(
              rules,
              readVerbs.map((verb) => ({
                verb,
                group: "",
                resource: "configmaps",
                namespace: defaultGatewayNamespace,
                name: routesConfigMapName,
              })),
            ),
          ).to.deep.equal([]);
        });

        it("may read nothing else and write nothing", () => {
          expect(
            rules.every((rule) => rule.namespace === defaultGatewayNamespace && rule.resourceNames?.join() === routesConfigMapName),
            "only namespaced, named rules",
          ).to.equal(true);
          expect(
            granted(rules, [
              { verb: "list", group: "", resource: "configmaps", namespace: defaultGatewayNamespace },
              { verb: "get", group: "", resource: "configmaps", namespace: defaultGatewayNamespace, name: "other" },
              { verb: "get", group: "", resource: "configmaps", namespace: "team-a", name: routesConfigMapName },
              ...writeVerbs.map((verb) => ({
                verb,
                group: "",
                resource: "configmaps",
                namespace: defaultGatewayNamespace,
                name: routesConfigMapName,
              })),
              { verb: "get", group: "xtrinode.io", resource: "xtrinodes", namespace: "team-a", name: "analytics" },
            ]),
          ).to.deep.equal([]);
        });
      });
    });
  }
});
