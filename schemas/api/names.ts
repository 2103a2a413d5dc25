// Kubernetes name rules (DNS-1123, qualified names) and the limits the XTrinode API adds to them.
// One definition of each regex: validation, request paths and GitOps tree paths all use these.

/** A DNS-1123 label (namespace, runtime name): lowercase alphanumerics and '-', at most 63 characters. */
export const dns1123LabelPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters. */
export const dns1123SubdomainPattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** The name part of a qualified name (label and annotation keys): alphanumerics, '-', '_', '.'. */
export const qualifiedNamePartPattern = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const maxLabelLength = 63;
export const maxSubdomainLength = 253;
/** Longest runtime name whose derived names ("<name>-trino-coordinator") stay DNS labels (≤ 63). */
export const MAX_RUNTIME_NAME = 45;

export function isDns1123Label(value: string): boolean {
  return value.length > 0 && value.length <= maxLabelLength && dns1123LabelPattern.test(value);
}

export function isDns1123Subdomain(value: string): boolean {
  return value.length > 0 && value.length <= maxSubdomainLength && dns1123SubdomainPattern.test(value);
}

/** A Kubernetes qualified name ([prefix/]name): label and annotation keys. */
export function isQualifiedName(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  return (prefix === undefined || isDns1123Subdomain(prefix)) && qualifiedNamePartPattern.test(name) && name.length <= maxLabelLength;
}
