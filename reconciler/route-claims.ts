// Hostnames and the default route each belong to one runtime in the whole cluster (the rule
// validateSpecSet enforces on a spec set). In operator mode every namespace publishes into the one
// routes document, so before publishing, a runtime's claims are checked against the other entries:
// whoever published a claim first keeps it; a later claimant publishes its entry without the claim
// (it stays reachable by the X-Trino-XTrinode header) and reports RouteConflict.
import type { GatewayRoutes, RouteEntry } from "../schemas/generated/types.ts";
import type { KubeObject } from "./apply-decision.ts";
import type { ClusterReader } from "./cluster-reader.ts";
import { findRoute } from "./routes.ts";

export interface RouteConflict {
  /** "host:<hostname>" (lowercase, as the gateway matches it) or "default". */
  claim: string;
  /** namespace/name of the runtime that holds the claim. */
  owner: string;
}

function claimsOf(entry: RouteEntry | Omit<RouteEntry, "state">): string[] {
  return [...(entry.hostnames ?? []).map((host) => `host:${host.toLowerCase()}`), ...(entry.default ? ["default"] : [])];
}

/** Every (claim, other runtime) pair where another entry of `doc` holds one of `entry`'s claims. */
function sharedClaims(doc: GatewayRoutes, entry: RouteEntry): RouteConflict[] {
  const ours = new Set(claimsOf(entry));
  const shared: RouteConflict[] = [];
  for (const other of doc.routes) {
    if (other.namespace === entry.namespace && other.name === entry.name) continue;
    // A REMOVED entry is on its way out (its runtime is being deleted): it no longer holds anything.
    if (other.state === "REMOVED") continue;
    for (const claim of claimsOf(other)) if (ours.has(claim)) shared.push({ claim, owner: `${other.namespace}/${other.name}` });
  }
  return shared;
}

/**
 * The claims of `entry` that another runtime of `doc` holds, one owner each; `won` lists claims our
 * published entry shares with others and keeps (see doubleClaimsWon).
 */
export function routeConflicts(doc: GatewayRoutes, entry: RouteEntry, won: ReadonlySet<string> = new Set()): RouteConflict[] {
  const byClaim = new Map<string, RouteConflict>();
  for (const shared of sharedClaims(doc, entry))
    if (!won.has(shared.claim) && !byClaim.has(shared.claim)) byClaim.set(shared.claim, shared);
  return [...byClaim.values()];
}

/** `entry` without the conflicting claims (the same object when there are none). */
export function withoutClaims(entry: RouteEntry, conflicts: RouteConflict[]): RouteEntry {
  if (!conflicts.length) return entry;
  const lost = new Set(conflicts.map((c) => c.claim));
  const { hostnames, default: isDefault, ...rest } = entry;
  const kept = (hostnames ?? []).filter((host) => !lost.has(`host:${host.toLowerCase()}`));
  return { ...rest, ...(kept.length ? { hostnames: kept } : {}), ...(isDefault && !lost.has("default") ? { default: true } : {}) };
}

/** What to tell the user: who holds each claim, and how to resolve it. */
export function describeConflicts(conflicts: RouteConflict[]): string {
  const parts = conflicts.map((c) =>
    c.claim === "default"
      ? `${c.owner} is already the default route: set spec.route.default to false, or unset it on ${c.owner} first`
      : `hostname "${c.claim.slice("host:".length)}" is already routed to ${c.owner}: remove it from spec.route.hostnames, or from ${c.owner} first`,
  );
  return `route published without the conflicting claims; ${parts.join("; ")}`;
}

/**
 * Claims our published entry already shares with another entry: only in a document written before
 * this check existed (or edited by hand), where "who came first" is lost. The runtime created first
 * keeps the claim (then the key, for a tie), so both sides decide alike without coordinating; an
 * entry whose runtime no longer exists loses. One read per other claimant (from the cache in the
 * controller), only in that case.
 */
export async function doubleClaimsWon(
  reader: Pick<ClusterReader, "runtime">,
  doc: GatewayRoutes,
  runtime: KubeObject,
): Promise<Set<string>> {
  const namespace = runtime.metadata?.namespace ?? "";
  const name = runtime.metadata?.name ?? "";
  const published = findRoute(doc, namespace, name);
  const won = new Set<string>();
  if (!published) return won;
  const shared = sharedClaims(doc, published);
  const lost = new Set<string>();
  const owners = new Map<string, KubeObject | undefined>();
  for (const { claim, owner } of shared) {
    if (!owners.has(owner)) {
      const [ownerNamespace, ownerName] = owner.split("/");
      owners.set(owner, await reader.runtime(ownerNamespace, ownerName));
    }
    const other = owners.get(owner);
    if (other && createdBefore(other, runtime)) lost.add(claim);
  }
  for (const { claim } of shared) if (!lost.has(claim)) won.add(claim);
  return won;
}

function createdBefore(a: KubeObject, b: KubeObject): boolean {
  const at = Date.parse(a.metadata?.creationTimestamp as unknown as string) || 0;
  const bt = Date.parse(b.metadata?.creationTimestamp as unknown as string) || 0;
  if (at !== bt) return at < bt;
  return `${a.metadata?.namespace}/${a.metadata?.name}` < `${b.metadata?.namespace}/${b.metadata?.name}`;
}
