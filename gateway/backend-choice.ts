// What to do with a NEW query once its target is known (pure): forward to the least-loaded healthy
// RUNNING member, hold it while a paused/resuming (or still starting) member is woken, or refuse
// (a FAILED member: the operator's reason, at once).
import type { RouteEntry } from "../schemas/generated/types.ts";
import { routeKey, type Target } from "./route-table.ts";

export interface BackendView {
  /** Passes active health checks and the breaker admits new queries. */
  usable: boolean;
  /** Queries in flight through this gateway on the backend. */
  outstanding: number;
  /** The coordinator reports starting=true (just resumed): worth waiting for, unlike a failing one. */
  starting?: boolean;
}

export type NewQueryDecision =
  | { action: "forward"; route: RouteEntry }
  | { action: "hold"; route: RouteEntry }
  | { action: "reject"; reason: "removed" | "unhealthy" | "failed"; message: string };

export function decideNewQuery(target: Target, view: (route: RouteEntry) => BackendView): NewQueryDecision {
  let best: { route: RouteEntry; outstanding: number } | undefined;
  for (const route of target.members) {
    if (route.state !== "RUNNING") continue;
    const backend = view(route);
    if (!backend.usable) continue;
    if (!best || backend.outstanding < best.outstanding) best = { route, outstanding: backend.outstanding };
  }
  if (best) return { action: "forward", route: best.route };
  // Wake one member: one already resuming before a paused one, a draining one only when alone.
  const resuming = target.members.find((route) => route.state === "RESUMING");
  const paused = target.members.find((route) => route.state === "PAUSED");
  const running = target.members.filter((route) => route.state === "RUNNING");
  const draining = target.members.filter((route) => route.state === "DRAINING");
  // A RUNNING member whose coordinator is still starting (route flipped before /v1/info settled).
  const starting = running.find((route) => view(route).starting);
  const wake = starting ?? resuming ?? paused ?? (running.length === 0 && draining.length === 1 ? draining[0] : undefined);
  if (wake) return { action: "hold", route: wake };
  // The operator found the runtime cannot start (its rollout stalled): say why now instead of holding.
  const failed = target.members.find((route) => route.state === "FAILED");
  if (failed && running.length === 0 && draining.length === 0)
    return { action: "reject", reason: "failed", message: failedRouteMessage(failed) };
  if (running.length > 0 || draining.length > 0) {
    return {
      action: "reject",
      reason: "unhealthy",
      message: `no healthy backend for ${target.label}: ${[...running, ...draining].map(routeKey).join(", ")} failing health checks or ejected`,
    };
  }
  return { action: "reject", reason: "removed", message: `XTrinode runtime ${target.label} has been removed from the gateway` };
}

/** The Trino error message for a runtime whose route is FAILED (new and held queries alike). */
export function failedRouteMessage(route: RouteEntry): string {
  return `XTrinode runtime ${routeKey(route)} cannot start${route.message ? `: ${route.message}` : ""}`;
}
