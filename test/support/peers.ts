// Real peers for the test tiers (real Kubernetes control plane, real Trino and its clients, PostgreSQL,
// nginx, Chromium, promtool): one cache folder outside the clone, one way to install Debian packages,
// one way to download from a package registry, and one way to say what could not be had.
// A peer that cannot be had is never faked: the tier prints what failed and which tests it skipped.
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** `~/.cache/xtrinode/<parts…>` (or `$XTRINODE_CACHE_DIR/<parts…>`), created on first use. */
export function peerCacheDir(...parts: string[]): string {
  const root = process.env.XTRINODE_CACHE_DIR ?? path.join(os.homedir(), ".cache", "xtrinode");
  const dir = path.join(root, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A progress line for a slow first-time setup step (builds, downloads), on stderr so the reporter's output stays readable. */
export function peerProgress(tier: string, message: string): void {
  process.stderr.write(`[peers:${tier}] ${message}\n`);
}

/** Thrown when a peer cannot be had; the message says exactly what failed. */
export class PeerUnavailable extends Error {
  readonly peer: string;
  readonly reason: string;
  constructor(peer: string, reason: string) {
    super(`${peer} unavailable: ${reason}`);
    this.peer = peer;
    this.reason = reason;
  }
}

/**
 * For a mocha `before` hook: prints which peer is missing, why, and which tests are skipped, then skips them.
 * Use only for PeerUnavailable; any other error must fail the tier.
 */
export function skipForMissingPeer(context: Mocha.Context, error: unknown, skipped: string): never {
  if (!(error instanceof PeerUnavailable)) throw error;
  process.stdout.write(`\n  SKIPPED ${skipped}: ${error.message}\n`);
  context.skip();
}

let aptUpdated = false;

function isDebianPackageInstalled(name: string): boolean {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes(
      "install ok installed",
    );
  } catch {
    return false;
  }
}

/** Installs the Debian packages that are missing (apt-get, as root); throws PeerUnavailable naming the package and apt's message. */
export async function ensureDebianPackages(names: string[]): Promise<void> {
  const missing = names.filter((name) => !isDebianPackageInstalled(name));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0)
    throw new PeerUnavailable(
      `Debian packages ${missing.join(", ")}`,
      "not installed and this process is not root (run as root or `apt-get install` them)",
    );
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    if (!aptUpdated) {
      peerProgress("apt", "apt-get update");
      await execFileAsync("apt-get", ["update", "-qq"], { env, maxBuffer: 64 << 20 });
      aptUpdated = true;
    }
    peerProgress("apt", `apt-get install ${missing.join(" ")}`);
    await execFileAsync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env, maxBuffer: 64 << 20 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new PeerUnavailable(
      `Debian packages ${missing.join(", ")}`,
      `apt-get failed: ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
}

/**
 * Downloads `url` to `file` once (kept in the cache afterwards); verifies `sha1` when given (Maven Central
 * publishes `<url>.sha1`). Writes to a temporary name first so an interrupted download is never taken as done.
 */
export async function downloadOnce(url: string, file: string, options: { sha1?: string; peer?: string } = {}): Promise<string> {
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  const peer = options.peer ?? path.basename(file);
  peerProgress("download", `${url}`);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new PeerUnavailable(peer, `GET ${url} failed: ${(error as Error).message}`);
  }
  if (!response.ok || !response.body) throw new PeerUnavailable(peer, `GET ${url} answered HTTP ${response.status}`);
  const hash = createHash("sha1");
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream);
  body.on("data", (chunk: Buffer) => hash.update(chunk));
  try {
    await pipeline(body, createWriteStream(partial));
  } catch (error) {
    rmSync(partial, { force: true });
    throw new PeerUnavailable(peer, `download of ${url} broke: ${(error as Error).message}`);
  }
  const actual = hash.digest("hex");
  if (options.sha1 && actual !== options.sha1.trim().slice(0, 40)) {
    rmSync(partial, { force: true });
    throw new PeerUnavailable(peer, `${url}: sha1 ${actual} does not match the published ${options.sha1.trim()}`);
  }
  renameSync(partial, file);
  return file;
}

/** Maven Central URL of `group:artifact:version[:classifier]` with the given extension. */
export function mavenCentralUrl(coordinates: string, extension: string): string {
  const [group, artifact, version, classifier] = coordinates.split(":");
  const name = `${artifact}-${version}${classifier ? `-${classifier}` : ""}.${extension}`;
  return `https://repo1.maven.org/maven2/${group.replaceAll(".", "/")}/${artifact}/${version}/${name}`;
}

/** Downloads a Maven Central artifact into the cache once, checked against its published sha1. */
export async function mavenArtifact(coordinates: string, extension: string): Promise<string> {
  const url = mavenCentralUrl(coordinates, extension);
  const file = path.join(peerCacheDir("maven"), path.basename(url));
  if (existsSync(file)) return file;
  let sha1: string | undefined;
  try {
    const response = await fetch(`${url}.sha1`);
    if (response.ok) sha1 = (await response.text()).trim();
  } catch {
    // the artifact download below reports the network failure
  }
  return downloadOnce(url, file, { sha1, peer: coordinates });
}
