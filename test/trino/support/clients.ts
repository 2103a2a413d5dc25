// The real clients of the real-Trino tier, each run as its users run it: the Trino CLI (executable
// jar), the JDBC driver from a BI-tool-like Java program, the Python `trino` client (DB-API and
// SQLAlchemy), and a plain HTTP loop for what the test itself asks Trino directly.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { javaBin } from "../../support/trino-peers.ts";

const clientsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "clients");

export interface ClientPeers {
  cliJar: string;
  jdbcJar: string;
  python: string;
  /** `/etc/hosts`-format file for Java's -Djdk.net.hosts.file (names → 127.0.0.1 inside the JVM). */
  hostsFile: string;
  /** JVM options for TLS (a truststore holding the ingress certificate), when set. */
  javaTls?: string[];
}

export function writeHostsFile(file: string, names: string[]): string {
  writeFileSync(file, `127.0.0.1 localhost\n${names.map((name) => `127.0.0.1 ${name}`).join("\n")}\n`);
  return file;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runProcess(command: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 256 << 20, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function lastJsonLine(run: Run, what: string): Record<string, unknown> {
  const line = run.stdout
    .trim()
    .split("\n")
    .filter((candidate) => candidate.startsWith("{"))
    .pop();
  if (!line) throw new Error(`${what} printed no result (exit ${run.code}):\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-4000)}`);
  return JSON.parse(line) as Record<string, unknown>;
}

function javaArgs(peers: ClientPeers): string[] {
  return [`-Djdk.net.hosts.file=${peers.hostsFile}`, ...(peers.javaTls ?? []), "-XX:TieredStopAtLevel=1", "-Xshare:auto"];
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  rows: number;
  checksum: string;
}

export function checksumLines(lines: string[]): string {
  const hash = createHash("sha256");
  for (const line of lines) hash.update(`${line}\n`);
  return hash.digest("hex");
}

/** The java arguments of one CLI run: as user analyst, TSV output, `extra` options before `--execute`. */
function cliArgs(peers: ClientPeers, server: string, sql: string, extra: string[] = []): string[] {
  return [
    ...javaArgs(peers),
    "-jar",
    peers.cliJar,
    "--server",
    server,
    "--user",
    "analyst",
    "--output-format",
    "TSV",
    ...extra,
    "--execute",
    sql,
  ];
}

/** `trino --server URL --execute SQL --output-format TSV`; rows and a checksum of the output lines. */
export async function runCli(
  peers: ClientPeers,
  server: string,
  sql: string,
  extra: string[] = [],
  timeoutMs = 300_000,
): Promise<CliResult> {
  const run = await runProcess(javaBin(), cliArgs(peers, server, sql, extra), timeoutMs);
  const lines = run.stdout.split("\n").filter((line) => line.length > 0);
  return { ...run, rows: lines.length, checksum: checksumLines(lines) };
}

/** The CLI as a child process (for interrupting it). */
export function spawnCli(peers: ClientPeers, server: string, sql: string): ChildProcess {
  return spawn(javaBin(), cliArgs(peers, server, sql), { stdio: ["ignore", "pipe", "pipe"] });
}

export async function runJdbc(
  peers: ClientPeers,
  mode: string,
  url: string,
  args: string[] = [],
  timeoutMs = 300_000,
): Promise<Record<string, unknown>> {
  const run = await runProcess(
    javaBin(),
    [...javaArgs(peers), "-cp", peers.jdbcJar, path.join(clientsDir, "JdbcClient.java"), mode, url, ...args],
    timeoutMs,
  );
  return lastJsonLine(run, `JDBC ${mode}`);
}

export async function runPython(
  peers: ClientPeers,
  options: Record<string, unknown>,
  timeoutMs = 300_000,
): Promise<Record<string, unknown>> {
  // requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (set on some machines) override the session's
  // `verify`, which is what the trino client sets: with a CA file of our own, they must not be set.
  const env = options.verify === undefined ? undefined : { REQUESTS_CA_BUNDLE: undefined, CURL_CA_BUNDLE: undefined };
  const run = await runProcess(peers.python, [path.join(clientsDir, "python_client.py"), JSON.stringify(options)], timeoutMs, env);
  return lastJsonLine(run, `Python ${String(options.mode)}`);
}

/** Runs SQL on Trino over plain HTTP (the test's own view, not a client under test); rows as arrays. */
export async function directQuery(baseUrl: string, sql: string, headers: Record<string, string> = {}): Promise<unknown[][]> {
  let doc = (await (
    await fetch(`${baseUrl}/v1/statement`, { method: "POST", body: sql, headers: { "x-trino-user": "xtrinode-test", ...headers } })
  ).json()) as { nextUri?: string; data?: unknown[][]; error?: { message: string } };
  const rows: unknown[][] = [];
  for (;;) {
    if (doc.data) rows.push(...doc.data);
    if (doc.error) throw new Error(`${sql}: ${doc.error.message}`);
    if (!doc.nextUri) return rows;
    doc = (await (await fetch(doc.nextUri, { headers: { "x-trino-user": "xtrinode-test" } })).json()) as typeof doc;
  }
}
