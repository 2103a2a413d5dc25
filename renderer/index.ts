// Public API of the renderer (docs/CONTRACTS.md "Renderer"). Pure functions, except loadSpecs.
export {
  renderRuntime,
  checkRuntimeInput,
  renderCheckedRuntime,
  type CheckedRuntime,
  renderNamespace,
  renderAll,
  routesConfigMap,
  checksum,
  isSuspended,
} from "./render.ts";
export { validateSpecSet, validateRuntime, type ValidateOptions } from "./validate.ts";
export { loadSpecs, loadPolicy, parseDocuments, SpecLoadError } from "./load.ts";
export { SPEC_LIMITS } from "./limits.ts";
export { buildValues, queryPressureQuery, QUERY_PRESSURE_METRIC } from "./values.ts";
export { selectCatalogs } from "./catalogs.ts";
export { rulesFor } from "./policy.ts";
export { runtimeNames, nodePoolId, backendUrl, namespaceOf, DEFAULT_NAMESPACE, COORDINATOR_PORT, type RuntimeNames } from "./names.ts";
export { toYaml, toYamlStream, objectFileName } from "./output.ts";
export {
  RenderError,
  formatIssue,
  formatIssues,
  type KubeObject,
  type HelmValues,
  type SecretRef,
  type RenderedRuntime,
  type RenderRuntimeInput,
  type SpecSet,
  type SpecSource,
  type ValidationIssue,
  type NamespaceRender,
  type RenderAllResult,
} from "./types.ts";
