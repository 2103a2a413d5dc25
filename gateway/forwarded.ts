// X-Forwarded-* handling: incoming values are honoured only from trusted proxies (CIDRs), so a
// client cannot steer nextUri (or hostname routing) by sending its own X-Forwarded-Host.
import { BlockList, isIPv6 } from "node:net";

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
  /** The client's address: the first X-Forwarded-For entry from a trusted proxy, else the peer. */
  client: string;
}

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  const part = text?.split(",")[0]?.trim();
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
  const host = (fromTrusted && first(headers["x-forwarded-host"])) || first(headers.host) || "localhost";
  const incomingFor = fromTrusted ? (Array.isArray(headers["x-forwarded-for"]) ? headers["x-forwarded-for"].join(", ") : headers["x-forwarded-for"]) : undefined;
  const forwardedFor = incomingFor ? `${incomingFor}, ${peer}` : peer;
  const client = (incomingFor && incomingFor.split(",")[0].trim()) || peer;
  return { proto, host, hostname: hostnameOf(host), forwardedFor, client };
}
