// Labels, annotations and the finalizer XTrinode writes on objects (docs/CONTRACTS.md). A new
// annotation or label is added here, next to the others, and named from here by every reader.

/** On every object rendered for a runtime (value: the runtime name); the operator prunes by it. */
export const ownerLabel = "xtrinode.io/runtime";
/** On a namespace's guardrail objects (LimitRange, ResourceQuota) rendered from the policy. */
export const guardrailsLabel = "xtrinode.io/guardrails";
/** Label and taint of a runtime's node pool nodes (value: `nodePoolId`). */
export const nodePoolLabel = "xtrinode.io/node-pool";
/** Annotation of a node pool's MachineDeployment naming the pool class. */
export const nodePoolClassAnnotation = "xtrinode.io/node-pool-class";
/** `app.kubernetes.io/managed-by` value of everything XTrinode renders. */
export const managedBy = "xtrinode";

/** The operator's finalizer on XTrinode objects (removes the route before the runtime goes). */
export const finalizer = "xtrinode.io/finalizer";

/** Lifecycle annotations on an XTrinode: intent written by the lifecycle API, activity by the gateway's API calls. */
export const annotations = {
  lastActivity: "xtrinode.io/last-activity",
  resumeRequestedAt: "xtrinode.io/resume-requested-at",
  resumeRequestedBy: "xtrinode.io/resume-requested-by",
  suspendRequestedAt: "xtrinode.io/suspend-requested-at",
  suspendRequestedBy: "xtrinode.io/suspend-requested-by",
} as const;
