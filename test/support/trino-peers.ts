// Real Trino and its real clients for the `test/trino` tier: the server (trino-server-core plus the
// plugins the tier needs), the Temurin 25 JDK, the Trino CLI, the JDBC driver, the Python `trino`
// client in a venv, and a private PostgreSQL cluster. Everything is fetched from the package registries
// on first use and cached under peerCacheDir(); a second run starts from the cache.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ensureDebianPackages, mavenArtifact, peerCacheDir, peerProgress, PeerUnavailable } from "./peers.ts";
import { freePort } from "./process.ts";

export { freePort };

const execFileAsync = promisify(execFile);

/** The newest Trino release whose server core Maven Central serves here (see maven-metadata.xml of io.trino:trino-server-core). */
export const trinoVersion = "476";
/** The Python client, pinned (PyPI). */
export const pythonTrinoVersion = "0.340.0";
/** Trino ≥ 447 needs Java ≥ 22 (476: ≥ 24); the machine's default java is 17. */
export const javaHome = process.env.XTRINODE_JAVA_HOME ?? "/usr/lib/jvm/temurin-25-jdk-amd64";

export function javaBin(): string {
  const java = path.join(javaHome, "bin", "java");
  if (!existsSync(java)) throw new PeerUnavailable("Java 25 (Temurin)", `${java} not found (set XTRINODE_JAVA_HOME to a JDK ≥ 24)`);
  return java;
}

export function javacBin(): string {
  const javac = path.join(javaHome, "bin", "javac");
  if (!existsSync(javac)) throw new PeerUnavailable("javac (JDK 25)", `${javac} not found (set XTRINODE_JAVA_HOME to a JDK ≥ 24)`);
  return javac;
}

async function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const { stdout } = await execFileAsync(command, args, { ...options, maxBuffer: 64 << 20 });
  return stdout;
}

async function unzipInto(zip: string, dir: string): Promise<void> {
  // node has no unzip; Java's jar tool reads zips and is always there with the JDK.
  mkdirSync(dir, { recursive: true });
  await run(path.join(javaHome, "bin", "jar"), ["xf", zip], { cwd: dir });
}

/**
 * The Trino server: trino-server-core (tar.gz) with the tpch and memory plugin ZIPs unpacked into
 * plugin/. The PostgreSQL plugin ZIP is not served for this version; its directory is taken from the
 * full trino-server tarball of the same version (downloaded once, deleted once unpacked).
 */
export async function ensureTrinoServer(): Promise<string> {
  const home = path.join(peerCacheDir("trino"), `trino-server-${trinoVersion}`);
  if (existsSync(path.join(home, ".complete"))) return home;
  javaBin();
  const staging = mkdtempSync(path.join(peerCacheDir("trino"), "staging-"));
  try {
    const core = await mavenArtifact(`io.trino:trino-server-core:${trinoVersion}`, "tar.gz");
    peerProgress("trino", `unpacking ${path.basename(core)}`);
    await run("tar", ["xzf", core, "-C", staging]);
    const root = path.join(staging, `trino-server-core-${trinoVersion}`);
    for (const plugin of ["tpch", "memory"]) {
      const zip = await mavenArtifact(`io.trino:trino-${plugin}:${trinoVersion}`, "zip");
      const unpacked = path.join(staging, `zip-${plugin}`);
      await unzipInto(zip, unpacked);
      renameSync(path.join(unpacked, `trino-${plugin}-${trinoVersion}`), path.join(root, "plugin", plugin));
    }
    let postgresqlZip: string | undefined;
    try {
      postgresqlZip = await mavenArtifact(`io.trino:trino-postgresql:${trinoVersion}`, "zip");
    } catch (error) {
      if (!(error instanceof PeerUnavailable)) throw error;
      peerProgress(
        "trino",
        `trino-postgresql ${trinoVersion} ZIP not served (${error.reason}); taking plugin/postgresql from the trino-server tarball`,
      );
    }
    if (postgresqlZip) {
      const unpacked = path.join(staging, "zip-postgresql");
      await unzipInto(postgresqlZip, unpacked);
      renameSync(path.join(unpacked, `trino-postgresql-${trinoVersion}`), path.join(root, "plugin", "postgresql"));
    } else {
      const full = await mavenArtifact(`io.trino:trino-server:${trinoVersion}`, "tar.gz");
      // Whole: the tarball stores shared jars once, as hard links into lib/ and other plugins.
      peerProgress("trino", `unpacking ${path.basename(full)} for plugin/postgresql`);
      await run("tar", ["xzf", full, "-C", staging]);
      renameSync(path.join(staging, `trino-server-${trinoVersion}`, "plugin", "postgresql"), path.join(root, "plugin", "postgresql"));
      rmSync(full, { force: true }); // 800 MB for one plugin: the unpacked server is the cache
    }
    writeFileSync(path.join(root, ".complete"), `${new Date().toISOString()}\n`);
    rmSync(home, { recursive: true, force: true });
    renameSync(root, home);
    return home;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export function ensureTrinoCli(): Promise<string> {
  return mavenArtifact(`io.trino:trino-cli:${trinoVersion}:executable`, "jar");
}

export function ensureTrinoJdbc(): Promise<string> {
  return mavenArtifact(`io.trino:trino-jdbc:${trinoVersion}`, "jar");
}

/** A venv under the cache with `trino[sqlalchemy]` from PyPI; returns its python. */
export async function ensurePythonTrino(): Promise<string> {
  const venv = path.join(peerCacheDir("python"), `trino-${pythonTrinoVersion}`);
  const python = path.join(venv, "bin", "python");
  if (existsSync(path.join(venv, ".complete"))) return python;
  rmSync(venv, { recursive: true, force: true });
  try {
    try {
      await run("python3", ["-m", "venv", venv]);
    } catch {
      rmSync(venv, { recursive: true, force: true });
      await ensureDebianPackages(["python3-venv"]);
      await run("python3", ["-m", "venv", venv]);
    }
    peerProgress("python", `pip install trino[sqlalchemy]==${pythonTrinoVersion}`);
    await run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", `trino[sqlalchemy]==${pythonTrinoVersion}`]);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
    throw new PeerUnavailable(`Python trino ${pythonTrinoVersion}`, stderr.trim().split("\n").slice(-3).join(" | "));
  }
  writeFileSync(path.join(venv, ".complete"), `${new Date().toISOString()}\n`);
  return python;
}

export const motoVersion = "5.2.5";

/**
 * An S3-compatible store on 127.0.0.1 for Trino's spooling manager (476's takes S3, GCS or Azure, no
 * local file system): moto's server from PyPI in a cached venv, on an ephemeral port, with `bucket` made.
 */
export async function startS3Store(bucket: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const venv = path.join(peerCacheDir("python"), `moto-${motoVersion}`);
  const server = path.join(venv, "bin", "moto_server");
  if (!existsSync(path.join(venv, ".complete"))) {
    rmSync(venv, { recursive: true, force: true });
    try {
      await ensureDebianPackages(["python3-venv"]);
      await run("python3", ["-m", "venv", venv]);
      peerProgress("python", `pip install moto[server]==${motoVersion}`);
      await run(path.join(venv, "bin", "python"), [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        `moto[server]==${motoVersion}`,
      ]);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? (error as Error).message;
      throw new PeerUnavailable(`moto[server] ${motoVersion}`, stderr.trim().split("\n").slice(-3).join(" | "));
    }
    writeFileSync(path.join(venv, ".complete"), `${new Date().toISOString()}\n`);
  }
  const port = await freePort();
  const child = spawn(server, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const made = await fetch(`${endpoint}/${bucket}`, { method: "PUT", signal: AbortSignal.timeout(2000) });
      if (made.ok) return { endpoint, stop };
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new PeerUnavailable("moto S3 server", `did not create bucket ${bucket} on ${endpoint} within 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface RunningPostgres {
  port: number;
  user: string;
  password: string;
  /** Runs SQL with psql in database `database`. */
  psql(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A private PostgreSQL cluster (Debian's postgresql package) in a temporary directory on an
 * ephemeral port, password authentication only. As root it runs as the `postgres` user (postgres
 * refuses to run as root).
 */
export async function startPostgres(password: string): Promise<RunningPostgres> {
  await ensureDebianPackages(["postgresql"]);
  const versions = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new PeerUnavailable("PostgreSQL", "no /usr/lib/postgresql/<version>/bin after installing postgresql");
  const bin = path.join("/usr/lib/postgresql", versions[0], "bin");
  const dir = mkdtempSync(path.join(os.tmpdir(), "xtrinode-pg-"));
  const data = path.join(dir, "data");
  const pwfile = path.join(dir, "pwfile");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  const asRoot = process.getuid?.() === 0;
  const wrap = (command: string, args: string[]): [string, string[]] =>
    asRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  chmodSync(dir, 0o700);
  const user = "postgres";
  const port = await freePort();
  try {
    await run(
      ...wrap(path.join(bin, "initdb"), ["-D", data, "-U", user, "--pwfile", pwfile, "--auth", "scram-sha-256", "--no-sync", "-E", "UTF8"]),
    );
    await run(
      ...wrap(path.join(bin, "pg_ctl"), [
        "-D",
        data,
        "-w",
        "-t",
        "60",
        "-l",
        path.join(dir, "postgres.log"),
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        "start",
      ]),
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new PeerUnavailable(
      "PostgreSQL",
      `could not start a private cluster: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`,
    );
  }
  const psqlBin = path.join(bin, "psql");
  return {
    port,
    user,
    password,
    psql: (sql, database = "postgres") =>
      run(psqlBin, ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], {
        env: { ...process.env, PGPASSWORD: password },
      }),
    async stop() {
      try {
        await run(...wrap(path.join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** The lines that say why a start failed (exception messages, which Guice buries early in a long dump), then the tail. */
function startFailure(output: string[]): string {
  const lines = output.join("").split("\n");
  const reasons = [
    ...new Set(lines.filter((line) => /(Exception|Error)\b.*: |Invalid /.test(line) && !line.trimStart().startsWith("at "))),
  ].slice(0, 10);
  return [...reasons, "…", ...lines.slice(-40)].join("\n");
}

export interface RunningTrino {
  url: string;
  port: number;
  child: ChildProcess;
  /** Launcher and server output, for failure messages. */
  output: string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Starts Trino the way the container image does (`launcher run --etc-dir …`, in the foreground) and
 * resolves once /v1/info says it is no longer starting; rejects with its output when it exits first.
 */
export async function startTrino(options: {
  home: string;
  etcDir: string;
  port: number;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<RunningTrino> {
  const env = { ...process.env, ...options.env, JAVA_HOME: javaHome, PATH: `${path.join(javaHome, "bin")}:${process.env.PATH ?? ""}` };
  const child = spawn(path.join(options.home, "bin", "launcher"), ["run", `--etc-dir=${options.etcDir}`], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: false,
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString("utf8"));
    if (output.length > 400) output.splice(0, output.length - 400);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await exited;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 240_000);
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`Trino exited (${child.exitCode}) while starting:\n${startFailure(output)}`);
    try {
      const info = (await (await fetch(`${url}/v1/info`, { signal: AbortSignal.timeout(2000) })).json()) as { starting?: boolean };
      if (info.starting === false) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Trino did not finish starting within ${options.timeoutMs ?? 240_000} ms:\n${output.join("").split("\n").slice(-60).join("\n")}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, port: options.port, child, output, exited, stop };
}
