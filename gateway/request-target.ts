// The request target, checked and made canonical BEFORE anything routes on it. A coordinator's
// Jetty resolves dot-segments, so a raw `/v1/statement/executing/<id>/x/../../../../v1/statement`
// forwarded to the owner of <id> would reach another endpoint past every check the gateway made on
// the path it saw. So: a target with dot-segments (also `%2e`), encoded slashes or backslashes
// (`%2f`, `%5c`, `\`), any percent-encoding in the path, empty segments or control characters is
// refused, and so is one that is not one of the Trino client-protocol shapes below (method
// included). An absolute-form target (`DELETE http://host:port/v1/…`, as presto-client sends) is
// accepted and turned into origin-form; the gateway only ever forwards the canonical origin-form.
import { queryIdSource } from "./query-id.ts";
import { gatewayStatusPath } from "./status.ts";

/** What a request is, by its path shape. */
export type RequestKind =
  | "probe" // /healthz, /readyz, /metrics (served by the gateway itself)
  | "status" // /xtrinode/v1/status (served by the gateway itself; it answers other methods with 405)
  | "new" // POST /v1/statement
  | "poll" // GET or DELETE of a statement nextUri
  | "partial-cancel" // DELETE of Trino's partialCancelUri
  | "query" // GET/HEAD/DELETE /v1/query/{id}
  | "query-list" // GET /v1/query (every query of a coordinator)
  | "info" // GET/HEAD /v1/info, /v1/info/state, /v1/status
  | "ui" // GET/HEAD /ui/… (Trino's web UI)
  | "spooled"; // GET/HEAD/DELETE /v1/spooled/{download|ack}/{segment id} (spooling protocol, Trino ≥ 466)

export interface RequestTarget {
  kind: RequestKind;
  /** Canonical origin-form path (what is forwarded). */
  path: string;
  /** "" or "?…" as received. */
  search: string;
  /** The query a follow-up refers to (poll, partial-cancel, query). */
  queryId?: string;
  /** The authority of an absolute-form target (it replaces Host, RFC 9112 §3.2.2). */
  authority?: string;
}

export type TargetCheck = { ok: true; target: RequestTarget } | { ok: false; status: 400 | 404 | 405; message: string };

/** Trino path segments the gateway forwards: slugs (also sealed tickets), tokens, stage numbers. */
const segment = "[A-Za-z0-9._~-]+";
const queryId = `(${queryIdSource})`;

interface Shape {
  kind: RequestKind;
  /** Accepted methods; "any" when the gateway's own handler answers the others. */
  methods: string[] | "any";
  pattern: RegExp;
}

const shapes: Shape[] = [
  { kind: "probe", methods: ["GET", "HEAD"], pattern: /^\/(?:healthz|readyz|metrics)\/?$/i },
  { kind: "status", methods: "any", pattern: new RegExp(`^${gatewayStatusPath}$`) },
  { kind: "new", methods: ["POST"], pattern: /^\/v1\/statement\/?$/ },
  // Trino's nextUri: /v1/statement/{queued|executing}/{queryId}/{slug}/{token}; the gateway's own
  // (held statements, failures) have the same shape.
  {
    kind: "poll",
    methods: ["GET", "DELETE"],
    pattern: new RegExp(`^/v1/statement/(?:queued|executing)/${queryId}/${segment}/${segment}$`),
  },
  // Trino's partialCancelUri: /v1/statement/executing/partialCancel/{queryId}/{stage}/{slug}/{token}
  {
    kind: "partial-cancel",
    methods: ["DELETE"],
    pattern: new RegExp(`^/v1/statement/executing/partialCancel/${queryId}/\\d+/${segment}/\\d+$`),
  },
  { kind: "query", methods: ["GET", "HEAD", "DELETE"], pattern: new RegExp(`^/v1/query/${queryId}$`) },
  { kind: "query-list", methods: ["GET"], pattern: /^\/v1\/query\/?$/ },
  { kind: "info", methods: ["GET", "HEAD"], pattern: /^\/v1\/(?:info|info\/state|status)$/ },
  // Spooled segments retrieved through the coordinator (protocol.spooling.retrieval-mode=coordinator_proxy).
  // The id is opaque (no query id in it): routed by runtime like /v1/info, not by owning query.
  { kind: "spooled", methods: ["GET", "HEAD", "DELETE"], pattern: /^\/v1\/spooled\/(?:download|ack)\/[A-Za-z0-9_=-]+$/ },
  { kind: "ui", methods: ["GET", "HEAD"], pattern: /^\/ui(?:\/(?:[A-Za-z0-9._~-]+\/)*[A-Za-z0-9._~-]*)?$/ },
];

/** Longest path accepted (sealed held-statement tickets are at most 6,000 characters). */
const maxPathChars = 8192;
const absoluteForm = /^https?:\/\/([^/?#]*)(.*)$/i;
// Printable ASCII except the characters no Trino path (or query string) needs raw.
const unsafeCharacter = /[^\x21-\x7e]|[#\\]/;

function refuse(status: 400 | 404 | 405, message: string): TargetCheck {
  return { ok: false, status, message };
}

/** Checks a request's method and raw target; the canonical target, or why it is refused. */
export function checkRequestTarget(method: string | undefined, rawTarget: string | undefined): TargetCheck {
  let target = rawTarget ?? "";
  let authority: string | undefined;
  const absolute = absoluteForm.exec(target);
  if (absolute) {
    if (absolute[1].includes("@"))
      return refuse(400, "the request target's authority carries user information (user@host); send credentials in Authorization");
    authority = absolute[1] || undefined;
    target = absolute[2].startsWith("/") ? absolute[2] : `/${absolute[2]}`;
  }
  if (!target.startsWith("/")) return refuse(400, "the request target must be a path (origin-form) or an http(s) URL (absolute-form)");
  const queryStart = target.indexOf("?");
  const path = queryStart < 0 ? target : target.slice(0, queryStart);
  const search = queryStart < 0 ? "" : target.slice(queryStart);
  if (path.length > maxPathChars) return refuse(400, `the request path is longer than ${maxPathChars} characters`);
  if (unsafeCharacter.test(target) || (authority !== undefined && unsafeCharacter.test(authority))) {
    return refuse(400, "the request target contains a backslash, a fragment, a space or a control character");
  }
  if (path.includes("%"))
    return refuse(400, "the request path contains percent-encoding (e.g. %2e, %2f, %5c); Trino client paths never do");
  // The path starts with "/", so a segment "." or ".." is "/./" or "/../" inside, or "/." or "/.." at the end.
  if (path.includes("/./") || path.includes("/../") || path.endsWith("/.") || path.endsWith("/.."))
    return refuse(400, "the request path contains a dot-segment (. or ..)");
  if (path.includes("//")) return refuse(400, "the request path contains an empty segment (//)");
  const upper = (method ?? "").toUpperCase();
  let known = false;
  for (const shape of shapes) {
    const match = shape.pattern.exec(path);
    if (!match) continue;
    known = true;
    if (shape.methods !== "any" && !shape.methods.includes(upper)) continue;
    return {
      ok: true,
      target: { kind: shape.kind, path, search, ...(match[1] ? { queryId: match[1] } : {}), ...(authority ? { authority } : {}) },
    };
  }
  if (known) return refuse(405, `method ${upper || "(none)"} is not allowed on this path`);
  return refuse(
    404,
    "not a Trino client-protocol path this gateway serves (/v1/statement, its nextUri and partialCancelUri, /v1/query/{queryId}, /v1/info, /v1/status, /v1/spooled/…, /ui, /xtrinode/v1/status)",
  );
}

const followUpKinds = new Set<RequestKind>(["poll", "partial-cancel", "query"]);

/** The query id a follow-up request path refers to (nextUri polls, cancels, query info). */
export function followUpQueryId(path: string, method = "GET"): string | undefined {
  const checked = checkRequestTarget(method, path);
  return checked.ok && followUpKinds.has(checked.target.kind) ? checked.target.queryId : undefined;
}

export function isNewStatement(method: string, path: string): boolean {
  return method === "POST" && (path === "/v1/statement" || path === "/v1/statement/");
}
