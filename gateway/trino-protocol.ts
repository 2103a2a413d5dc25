// Trino client-protocol documents the gateway answers with itself: QueryResults in state QUEUED
// (held statements) and FAILED (gateway errors). Every Trino client renders a FAILED QueryResults'
// error message, whereas most fail with an opaque message (or not at all) on a non-200 first POST.

export interface TrinoErrorKind {
  errorName: string;
  errorCode: number;
  errorType: "USER_ERROR" | "INTERNAL_ERROR" | "INSUFFICIENT_RESOURCES" | "EXTERNAL";
}

// Codes in a gateway range (0x0700_0000 + n) so they never clash with Trino's own.
export const gatewayErrors = {
  unknownRuntime: { errorName: "XTRINODE_UNKNOWN_RUNTIME", errorCode: 0x0700_0001, errorType: "USER_ERROR" },
  runtimeRemoved: { errorName: "XTRINODE_RUNTIME_REMOVED", errorCode: 0x0700_0002, errorType: "USER_ERROR" },
  noHealthyBackend: { errorName: "XTRINODE_NO_HEALTHY_BACKEND", errorCode: 0x0700_0003, errorType: "EXTERNAL" },
  backendUnreachable: { errorName: "XTRINODE_BACKEND_UNREACHABLE", errorCode: 0x0700_0004, errorType: "EXTERNAL" },
  queryNotFound: { errorName: "XTRINODE_QUERY_NOT_FOUND", errorCode: 0x0700_0005, errorType: "USER_ERROR" },
  rateLimited: { errorName: "XTRINODE_RATE_LIMITED", errorCode: 0x0700_0006, errorType: "INSUFFICIENT_RESOURCES" },
  tooManyHeld: { errorName: "XTRINODE_TOO_MANY_HELD_QUERIES", errorCode: 0x0700_0007, errorType: "INSUFFICIENT_RESOURCES" },
  resumeTimeout: { errorName: "XTRINODE_RESUME_TIMEOUT", errorCode: 0x0700_0008, errorType: "EXTERNAL" },
  unauthenticated: { errorName: "XTRINODE_UNAUTHENTICATED", errorCode: 0x0700_0009, errorType: "USER_ERROR" },
  accessDenied: { errorName: "XTRINODE_ACCESS_DENIED", errorCode: 0x0700_000a, errorType: "USER_ERROR" },
  resumeFailed: { errorName: "XTRINODE_RESUME_FAILED", errorCode: 0x0700_000b, errorType: "EXTERNAL" },
  loginThrottled: { errorName: "XTRINODE_LOGIN_THROTTLED", errorCode: 0x0700_000c, errorType: "USER_ERROR" },
  statementTooLarge: { errorName: "XTRINODE_STATEMENT_TOO_LARGE", errorCode: 0x0700_000d, errorType: "USER_ERROR" },
  gatewayBusy: { errorName: "XTRINODE_GATEWAY_BUSY", errorCode: 0x0700_000e, errorType: "INSUFFICIENT_RESOURCES" },
  statementTimeout: { errorName: "XTRINODE_STATEMENT_TIMEOUT", errorCode: 0x0700_000f, errorType: "USER_ERROR" },
  invalidRequest: { errorName: "XTRINODE_INVALID_REQUEST", errorCode: 0x0700_0010, errorType: "USER_ERROR" },
  lookupsThrottled: { errorName: "XTRINODE_LOOKUPS_THROTTLED", errorCode: 0x0700_0011, errorType: "INSUFFICIENT_RESOURCES" },
  queryCancelled: { errorName: "USER_CANCELED", errorCode: 3, errorType: "USER_ERROR" },
} as const satisfies Record<string, TrinoErrorKind>;

function stats(state: string) {
  return {
    state,
    queued: state === "QUEUED",
    scheduled: false,
    nodes: 0,
    totalSplits: 0,
    queuedSplits: 0,
    runningSplits: 0,
    completedSplits: 0,
    cpuTimeMillis: 0,
    wallTimeMillis: 0,
    queuedTimeMillis: 0,
    elapsedTimeMillis: 0,
    processedRows: 0,
    processedBytes: 0,
    physicalInputBytes: 0,
    peakMemoryBytes: 0,
    spilledBytes: 0,
  };
}

export interface QueryResultsDocument {
  id: string;
  infoUri: string;
  nextUri?: string;
  stats: ReturnType<typeof stats>;
  error?: {
    message: string;
    errorCode: number;
    errorName: string;
    errorType: string;
    failureInfo: { type: string; message: string; suppressed: string[]; stack: string[] };
  };
  warnings: string[];
}

export function queuedQueryResults(id: string, infoUri: string, nextUri: string): QueryResultsDocument {
  return { id, infoUri, nextUri, stats: stats("QUEUED"), warnings: [] };
}

export function failedQueryResults(id: string, infoUri: string, kind: TrinoErrorKind, message: string): QueryResultsDocument {
  return {
    id,
    infoUri,
    stats: stats("FAILED"),
    error: {
      message,
      errorCode: kind.errorCode,
      errorName: kind.errorName,
      errorType: kind.errorType,
      failureInfo: { type: "io.xtrinode.gateway.GatewayException", message, suppressed: [], stack: [] },
    },
    warnings: [],
  };
}
