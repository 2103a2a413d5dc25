// Validates a Kubernetes object against the Kubernetes API schemas, two ways:
// 1. kubernetes-models' validators (generated from the Kubernetes OpenAPI spec): types, required
//    fields, enums and formats. They accept unknown fields, so
// 2. a strict walk over the field lists of @kubernetes/client-node's generated models (also from the
//    OpenAPI spec) reports every field the API does not define (a typo such as `readinesProbe`
//    would otherwise pass, and the API server would drop it silently).
// A kind neither package knows is an error: every manifest in deploy/ must be checkable.
// Prometheus Operator kinds (deploy/monitoring/) are validated by @kubernetes-models/prometheus-operator
// (generated from its CRDs: types, required fields, enums) only: client-node has no model of them, so
// the unknown-field walk does not cover them.
import * as kubeClient from "@kubernetes/client-node";
import type { KubeObject } from "./kustomize.ts";

export interface ManifestIssue {
  path: string;
  message: string;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

async function modelClassFor(apiVersion: string, kind: string): Promise<ModelClass | undefined> {
  // kubernetes-models lays its classes out as kubernetes-models/<group>/<version> (core: kubernetes-models/v1).
  const { group, version } = splitApiVersion(apiVersion);
  if (!/^[a-z0-9.]*$/.test(group) || !/^v[0-9a-z]+$/.test(version)) return undefined;
  const modulePath = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  try {
    const module = (await import(modulePath)) as Record<string, unknown>;
    const candidate = module[kind];
    return typeof candidate === "function" ? (candidate as ModelClass) : undefined;
  } catch {
    return undefined;
  }
}

interface Attribute {
  baseName: string;
  type: string;
}
type ClientModel = { attributeTypeMap?: Attribute[]; getAttributeTypeMap?: () => Attribute[] };
const clientModels = kubeClient as unknown as Record<string, ClientModel | undefined>;

function clientModelName(apiVersion: string, kind: string): string {
  // client-node names top-level kinds <Version><Kind>: apps/v1 Deployment -> V1Deployment, autoscaling/v2 HPA -> V2HorizontalPodAutoscaler.
  const { version } = splitApiVersion(apiVersion);
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

function attributesOf(typeName: string): Attribute[] | undefined {
  const model = clientModels[typeName];
  if (!model || (typeof model !== "function" && typeof model !== "object")) return undefined;
  return model.getAttributeTypeMap?.() ?? model.attributeTypeMap;
}

const leafTypes = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString"]);

/** Reports fields that the Kubernetes schema for `typeName` does not define. */
function unknownFields(value: unknown, typeName: string, at: string, issues: ManifestIssue[]): void {
  if (value === null || value === undefined || leafTypes.has(typeName)) return;
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) {
    if (Array.isArray(value)) value.forEach((item, index) => unknownFields(item, array[1], `${at}[${index}]`, issues));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    if (typeof value === "object") for (const [key, item] of Object.entries(value)) unknownFields(item, map[1], `${at}.${key}`, issues);
    return;
  }
  const attributes = attributesOf(typeName);
  if (!attributes) {
    issues.push({ path: at || "(root)", message: `no Kubernetes model named ${typeName} to check fields against` });
    return;
  }
  if (typeof value !== "object" || Array.isArray(value)) return; // type errors are kubernetes-models' to report
  const byName = new Map(attributes.map((attribute) => [attribute.baseName, attribute.type]));
  for (const [key, item] of Object.entries(value)) {
    const fieldType = byName.get(key);
    const fieldPath = at ? `${at}.${key}` : key;
    if (fieldType === undefined)
      issues.push({ path: fieldPath, message: `unknown field "${key}" (not in the Kubernetes schema of ${typeName})` });
    else unknownFields(item, fieldType, fieldPath, issues);
  }
}

/** Third-party kinds deploy/ ships, with their model packages. */
const thirdPartyModels: Record<string, () => Promise<ModelClass>> = {
  "monitoring.coreos.com/v1/PrometheusRule": async () =>
    (await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule"))
      .PrometheusRule as unknown as ModelClass,
  "monitoring.coreos.com/v1/ServiceMonitor": async () =>
    (await import("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor"))
      .ServiceMonitor as unknown as ModelClass,
};

/** Validates one object; returns [] when it is valid for its apiVersion and kind. */
export async function validateManifest(object: KubeObject): Promise<ManifestIssue[]> {
  const { apiVersion, kind } = object;
  const thirdParty = thirdPartyModels[`${apiVersion}/${kind}`];
  if (thirdParty) {
    try {
      new (await thirdParty())(object).validate();
      return [];
    } catch (error) {
      return [{ path: "(root)", message: (error as Error).message }];
    }
  }
  const ModelClass = await modelClassFor(apiVersion, kind);
  const clientModel = clientModelName(apiVersion, kind);
  if (!ModelClass || !attributesOf(clientModel)) {
    return [{ path: "(root)", message: `unknown kind ${apiVersion} ${kind}: no Kubernetes schema to validate it against` }];
  }
  const issues: ManifestIssue[] = [];
  try {
    new ModelClass(object).validate();
  } catch (error) {
    issues.push({ path: "(root)", message: (error as Error).message });
  }
  unknownFields(object, clientModel, "", issues);
  return issues;
}
