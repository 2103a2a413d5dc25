// X-Forwarded-* handling: incoming values are honoured only from trusted proxies (CIDRs), so a
// client cannot steer nextUri (or hostname routing) by sending its own X-Forwarded-Host.
import type { OutgoingHttpHeaders } from "node:http";
import { BlockList, isIP, isIPv6 } from "node:net";

export interface TrustedProxies {
  trusts(address: string | undefined): boolean;
}

function normalise(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

export function trustedProxies(cidrs: string[]): TrustedProxies {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, prefixText] = cidr.split("/");
    const type = isIPv6(network) ? "ipv6" : "ipv4";
    const prefix = prefixText === undefined ? (type === "ipv6" ? 128 : 32) : Number(prefixText);
    if (!Number.isInteger(prefix)) throw new Error(`trustedProxies: "${cidr}" is not a CIDR (e.g. 10.0.0.0/8)`);
    try {
      list.addSubnet(network, prefix, type);
    } catch (error) {
      throw new Error(`trustedProxies: "${cidr}" is not a CIDR (e.g. 10.0.0.0/8): ${(error as Error).message}`);
    }
  }
  return {
    trusts(address) {
      if (!address || cidrs.length === 0) return false;
      const ip = normalise(address);
      if (isIP(ip) === 0) return false; // an X-Forwarded-For entry may be anything ("unknown", a name)
      return list.check(ip, isIPv6(ip) ? "ipv6" : "ipv4");
    },
  };
}

export interface ForwardedView {
  proto: string;
  /** Host (with port) clients used to reach the gateway: what nextUri must point at. */
  host: string;
  /** Hostname (no port, lower case) for hostname routing. */
  hostname: string;
  /** X-Forwarded-For to send to the backend. */
  forwardedFor: string;
  /**
   * The client's address: walking X-Forwarded-For from the right (the entries our trusted proxies
   * appended), the first address that is not a trusted proxy; the peer when nothing was forwarded.
   * Entries left of that were written by the client and prove nothing.
   */
  client: string;
}

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const comma = text.indexOf(",");
  const part = (comma < 0 ? text : text.slice(0, comma)).trim();
  return part ? part : undefined;
}

export function hostnameOf(host: string): string {
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1).toLowerCase();
  return host.replace(/:\d+$/, "").toLowerCase();
}

/** Computes what the gateway forwards, given the raw request headers and peer address. */
export function forwardedView(
  headers: Record<string, string | string[] | undefined>,
  remoteAddress: string | undefined,
  ownProto: "http" | "https",
  trusted: TrustedProxies,
): ForwardedView {
  const peer = remoteAddress ? normalise(remoteAddress) : "";
  const fromTrusted = trusted.trusts(remoteAddress);
  const proto = (fromTrusted && first(headers["x-forwarded-proto"])) || ownProto;
  let host = (fromTrusted && first(headers["x-forwarded-host"])) || first(headers.host) || "localhost";
  const port = fromTrusted ? first(headers["x-forwarded-port"]) : undefined;
  // X-Forwarded-Port is dropped before forwarding (below), so a trusted proxy's port goes into the host.
  if (
    port &&
    /^\d+$/.test(port) &&
    !/:\d+$/.test(host) &&
    !host.endsWith("]") &&
    !((proto === "https" && port === "443") || (proto === "http" && port === "80"))
  ) {
    host = `${host}:${port}`;
  }
  const incomingFor = fromTrusted
    ? Array.isArray(headers["x-forwarded-for"])
      ? headers["x-forwarded-for"].join(", ")
      : headers["x-forwarded-for"]
    : undefined;
  const forwardedFor = incomingFor ? `${incomingFor}, ${peer}` : peer;
  let client = peer;
  const chain = incomingFor
    ? incomingFor
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean)
    : [];
  for (let i = chain.length - 1; i >= 0 && trusted.trusts(client); i--) client = normalise(chain[i]);
  return { proto, host, hostname: hostnameOf(host), forwardedFor, client };
}

// Every header a coordinator's Jetty (ForwardedRequestCustomizer) reads to build nextUri or the
// client address. The gateway sends X-Forwarded-For/Proto/Host of its own and none of the others,
// so nothing a client sends (e.g. `Forwarded: host=…`, which Jetty ranks first) can steer nextUri.
const forwardingHeaderNames = new Set(["forwarded", "x-proxied-https", "proxy-ssl-id", "proxy-auth-cert"]);

export function isForwardingHeader(name: string): boolean {
  return name.startsWith("x-forwarded-") || forwardingHeaderNames.has(name);
}

/** The forwarding headers the gateway sends to a backend. */
export function forwardedHeaders(forwarded: ForwardedView): OutgoingHttpHeaders {
  return { "x-forwarded-for": forwarded.forwardedFor, "x-forwarded-proto": forwarded.proto, "x-forwarded-host": forwarded.host };
}

/** The same, appended to a flat [name, value, …] header list (undici's form). */
export function appendForwardedHeaders(out: string[], forwarded: ForwardedView): void {
  out.push("x-forwarded-for", forwarded.forwardedFor, "x-forwarded-proto", forwarded.proto, "x-forwarded-host", forwarded.host);
}
