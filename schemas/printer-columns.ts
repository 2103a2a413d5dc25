// The CRDs' additionalPrinterColumns (`kubectl get xtrinodes`, `kubectl get xtrinodecatalogs`). The
// XTrinode columns use the vocabulary of `xtrinode status` (status/table.ts): PHASE, ROUTE, WORKERS,
// LAST ACTIVITY, WAKE TTL, AGE, and with -o wide (priority 1) CONDITIONS, HOSTNAMES, POOL; a test
// checks that every XTrinode column name is one of its headers.
export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  /** 1: shown by `kubectl get -o wide` only. */
  priority?: number;
}

export function xtrinodePrinterColumns(): PrinterColumn[] {
  return [
    { name: "Phase", type: "string", jsonPath: ".status.phase" },
    {
      name: "Route",
      type: "string",
      jsonPath: ".status.routeState",
      description: "Gateway route state: RUNNING, RESUMING, PAUSED, DRAINING, REMOVED",
    },
    {
      name: "Workers",
      type: "integer",
      jsonPath: ".status.workers",
      description: "Ready worker replicas (xtrinode status shows ready/desired and the mode)",
    },
    { name: "Last Activity", type: "date", jsonPath: ".status.lastActivityTime", description: "Last query activity the gateway reported" },
    {
      name: "Wake TTL",
      type: "string",
      jsonPath: ".spec.lifecycle.wakeTTL",
      description: "Idle time before the operator suspends the runtime (xtrinode status shows the time left)",
    },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
    {
      name: "Conditions",
      type: "string",
      jsonPath: '.status.conditions[?(@.status!="True")].reason',
      description: "Reasons of the conditions that are not True",
      priority: 1,
    },
    { name: "Hostnames", type: "string", jsonPath: ".spec.route.hostnames", priority: 1 },
    { name: "Pool", type: "string", jsonPath: ".spec.route.pool", priority: 1 },
  ];
}

export function xtrinodeCatalogPrinterColumns(): PrinterColumn[] {
  return [
    { name: "Connector", type: "string", jsonPath: ".spec.connector" },
    {
      name: "Ready",
      type: "string",
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
      description: "Every Secret key of spec.secretProperties exists",
    },
    { name: "Used-By", type: "string", jsonPath: ".status.usedBy", description: "XTrinodes of the namespace that mount this catalog" },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ];
}
