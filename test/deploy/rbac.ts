// A small RBAC evaluator over rendered manifests: which rules bind to a ServiceAccount, and whether
// they allow one request, with the Kubernetes RBAC authorizer's matching rules (apiGroups,
// resources incl. subresources "res/sub", resourceNames, verbs; "*" matches everything).
import type { KubeObject } from "./kustomize.ts";

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

export interface GrantedRule extends Rule {
  /** Namespace the rule applies in; undefined for a ClusterRole bound by a ClusterRoleBinding (all namespaces). */
  namespace?: string;
  role: string;
}

export interface Request {
  verb: string;
  group: string;
  resource: string;
  /** Omitted for cluster-scoped resources and all-namespace requests. */
  namespace?: string;
  name?: string;
}

function findRole(objects: KubeObject[], kind: string, name: string, namespace?: string): KubeObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name && (kind === "ClusterRole" || o.metadata.namespace === namespace));
}

/** Every rule granted to the ServiceAccount namespace/name by the bindings among `objects`. */
export function rulesFor(objects: KubeObject[], namespace: string, name: string): GrantedRule[] {
  const granted: GrantedRule[] = [];
  for (const binding of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
    const subjects: any[] = binding.subjects ?? [];
    if (!subjects.some((s) => s.kind === "ServiceAccount" && s.name === name && s.namespace === namespace)) continue;
    const scope = binding.kind === "RoleBinding" ? binding.metadata.namespace : undefined;
    const role = findRole(objects, binding.roleRef.kind, binding.roleRef.name, binding.metadata.namespace);
    if (!role)
      throw new Error(`${binding.kind} ${binding.metadata.name} refers to missing ${binding.roleRef.kind} ${binding.roleRef.name}`);
    for (const rule of (role.rules ?? []) as Rule[])
      granted.push({ ...rule, namespace: scope, role: `${role.kind}/${role.metadata.name}` });
  }
  return granted;
}

function matches(list: string[] | undefined, value: string): boolean {
  return (list ?? []).some((item) => item === "*" || item === value);
}

export function allows(rules: GrantedRule[], request: Request): boolean {
  return rules.some(
    (rule) =>
      (rule.namespace === undefined || rule.namespace === request.namespace) &&
      matches(rule.verbs, request.verb) &&
      matches(rule.apiGroups, request.group) &&
      matches(rule.resources, request.resource) &&
      (!rule.resourceNames?.length || (request.name !== undefined && rule.resourceNames.includes(request.name))),
  );
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
  status: number;
  contentType?: string;
}

/**
 * The RBAC attributes of a logged Kubernetes API request, as the API server's request-info resolver
 * derives them; undefined for discovery and other non-resource paths, which every authenticated
 * client may read (system:discovery). A server-side apply that created its object (201) also needs
 * `create`, so it yields two requests.
 */
export function requestAttributes(entry: LoggedRequest): Request[] | undefined {
  const parts = entry.path.split("?")[0].split("/").filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === "api" && parts.length >= 2) {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1];
    rest = parts.slice(3);
  } else return undefined;
  if (rest.length === 0) return undefined; // group/version discovery
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  const fullResource = subresource ? `${resource}/${subresource}` : resource;
  const selectedName = /^metadata\.name=([^,]+)$/.exec(entry.query.fieldSelector ?? "")?.[1];
  const watch = entry.watch || entry.query.watch === "true" || entry.query.watch === "1";
  const verb = (() => {
    switch (entry.method) {
      case "GET":
        return name ? "get" : watch ? "watch" : "list";
      case "POST":
        return "create";
      case "PUT":
        return "update";
      case "PATCH":
        return "patch";
      case "DELETE":
        return name ? "delete" : "deletecollection";
      default:
        return entry.method.toLowerCase();
    }
  })();
  const request: Request = { verb, group, resource: fullResource, namespace, name: name ?? selectedName };
  const createdByApply = entry.method === "PATCH" && entry.status === 201;
  return createdByApply ? [request, { ...request, verb: "create" }] : [request];
}
