// Validation of the runtime coordinates taken from request paths.
import { dns1123LabelPattern, isDns1123Label } from "../schemas/api/index.ts";
import { badRequest } from "./errors.ts";

/** Throws a 400 naming the DNS-1123 label rule when `value` is not a valid namespace or runtime name. */
export function checkDns1123Label(field: "namespace" | "name", value: string): string {
  if (!isDns1123Label(value)) {
    throw badRequest(
      `${field} ${JSON.stringify(value)} is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and '-', ` +
        `starting and ending with a letter or digit (regex ${dns1123LabelPattern.source})`,
    );
  }
  return value;
}

/** Where resume Leases live by default: the API server's own namespace, so it needs Lease rights there only. */
export const defaultLeaseNamespace = "xtrinode-system";

/**
 * The per-runtime resume Lease name (docs/CONTRACTS.md), in the Lease namespace. Lease names are DNS-1123
 * subdomains: two labels joined by dots always fit, and cannot collide.
 */
export function resumeLeaseName(namespace: string, runtimeName: string): string {
  return `xtrinode-resume.${namespace}.${runtimeName}`;
}
