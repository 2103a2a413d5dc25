// Child processes for tests: `node bin/xtrinode.ts …` (or a fixture's main.ts) on this Node,
// waiting for the one JSON ready line, collecting output, and killed for sure in after hooks.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const xtrinodeBin = path.join(repoRoot, "bin", "xtrinode.ts");

export interface ChildUnderTest {
  child: ChildProcess;
  pid: number;
  /** stdout lines and stderr chunks, in arrival order. */
  output: string[];
  /** The parsed ready line. */
  ready: Record<string, unknown>;
  exited: Promise<number | null>;
  /** SIGKILL (default) or another signal; resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();

/** Kills every child this helper started and that still runs (for after/afterEach hooks). */
export async function killAllChildren(): Promise<void> {
  const waits = [...live].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  await Promise.all(waits);
  live.clear();
}

export interface SpawnOptions {
  /** `event` value of the ready line (default: "listening" or "ready"). */
  readyEvent?: string | string[];
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Spawns `node <script> args…` and resolves once it printed its JSON ready line. */
export async function spawnReady(script: string, args: string[], options: SpawnOptions = {}): Promise<ChildUnderTest> {
  const events = [options.readyEvent ?? ["listening", "ready"]].flat();
  const child = spawn(process.execPath, [script, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  live.add(child);
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => (live.delete(child), resolve(code))));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `no ready line from ${path.basename(script)} ${args.join(" ")} within ${options.timeoutMs ?? 20_000} ms:\n${output.join("\n")}`,
          ),
        ),
      options.timeoutMs ?? 20_000,
    );
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        output.push(line);
        if (!line.startsWith("{")) continue;
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>;
          if (events.includes(String(parsed.event))) {
            clearTimeout(timer);
            resolve(parsed);
          }
        } catch {
          // not JSON: a log line
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} ${args.join(" ")} exited (${code}) before its ready line:\n${output.join("\n")}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    output,
    ready,
    exited,
    kill: async (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** `node bin/xtrinode.ts <args>` until ready. */
export function spawnXtrinode(args: string[], options: SpawnOptions = {}): Promise<ChildUnderTest> {
  return spawnReady(xtrinodeBin, args, options);
}

export interface GatewayArgs {
  routesFile: string;
  /** `--config` (gateway-config.schema.json). */
  configFile?: string;
  /** `--workers`; unset: the gateway's default (one per usable CPU). */
  workers?: number;
}

/** Arguments of `xtrinode gateway` on an ephemeral port of 127.0.0.1, with its routes from a file. */
export function gatewayArgs({ routesFile, configFile, workers }: GatewayArgs): string[] {
  return [
    "gateway",
    ...(workers === undefined ? [] : ["--workers", String(workers)]),
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--routes-file",
    routesFile,
    ...(configFile ? ["--config", configFile] : []),
  ];
}

/** `xtrinode gateway` (see gatewayArgs) until its ready line; its URL is `ready.url`. */
export function spawnGateway(gateway: GatewayArgs, options: SpawnOptions = {}): Promise<ChildUnderTest> {
  return spawnXtrinode(gatewayArgs(gateway), options);
}

export interface OperatorArgs {
  kubeconfig: string;
  /** `--identity`: the leader-election holder name. */
  identity: string;
  /** `--namespace-gateway` (default: the operator's). */
  namespaceGateway?: string;
  /** Timers as flag values ("1s", "100ms"); short by default, so failover and resyncs are quick in tests. */
  leaseDuration?: string;
  retryPeriod?: string;
  resyncPeriod?: string;
  drainPeriod?: string;
}

/** `xtrinode operator` with its metrics on an ephemeral port of 127.0.0.1, until its ready line (`ready.metricsPort`). */
export function spawnOperator(operator: OperatorArgs, options: SpawnOptions = {}): Promise<ChildUnderTest> {
  return spawnXtrinode(
    [
      "operator",
      "--kubeconfig",
      operator.kubeconfig,
      ...(operator.namespaceGateway ? ["--namespace-gateway", operator.namespaceGateway] : []),
      "--metrics-port",
      "0",
      "--metrics-host",
      "127.0.0.1",
      "--identity",
      operator.identity,
      "--lease-duration",
      operator.leaseDuration ?? "2s",
      "--retry-period",
      operator.retryPeriod ?? "200ms",
      "--resync-period",
      operator.resyncPeriod ?? "2s",
      ...(operator.drainPeriod ? ["--drain-period", operator.drainPeriod] : []),
    ],
    { readyEvent: "ready", ...options },
  );
}

/** Runs `node bin/xtrinode.ts <args>` to completion (bounded). */
export function runXtrinode(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [xtrinodeBin, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(
      () => (child.kill("SIGKILL"), reject(new Error(`xtrinode ${args.join(" ")} did not finish within ${timeoutMs} ms`))),
      timeoutMs,
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A port that was free on 127.0.0.1 a moment ago (for peers that cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
