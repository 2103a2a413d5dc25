// The XTrinode API group: group, version, kinds and plural resource names (as a CRD declares them).
// Every component (renderer, operator, gateway, lifecycle API, GitOps, fixtures) names them from here.
export const group = "xtrinode.io";
export const version = "v1alpha1";
/** `apiVersion` of every XTrinode document, custom resource or not. */
export const apiVersion = `${group}/${version}` as const;

export const kinds = {
  runtime: "XTrinode",
  catalog: "XTrinodeCatalog",
  routes: "GatewayRoutes",
  gatewayStatus: "GatewayStatus",
  statusList: "XTrinodeStatusList",
  gitopsRender: "GitOpsRender",
} as const;

/** Resource names in API paths (`/apis/xtrinode.io/v1alpha1/namespaces/N/<plural>`). */
export const plurals = {
  runtime: "xtrinodes",
  catalog: "xtrinodecatalogs",
} as const;
