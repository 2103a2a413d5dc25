// `npm start` (fixtures/local-stack/main.ts) as a user runs it: progress lines, the printed
// instructions work (a trino-client query by header through the printed gateway URL, and the printed curl
// commands, which follow nextUri and print rows), and SIGTERM
// stops every child process and removes the temporary directory. Plus the local stack's pure parts.
import { expect } from "chai";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import yaml from "js-yaml";
import { BasicAuth, Trino } from "trino-client";
import { repoRoot } from "../../fixtures/local-stack/processes.ts";
import { rewriteBackends } from "../../fixtures/local-stack/routes-adapter.ts";
import { decodeRoutes } from "../../schemas/api/index.ts";
import { coordinatorOf } from "../../fixtures/local-stack/coordinators.ts";
import { placeholderSecrets, removeAbandonedStackDirs } from "../../fixtures/local-stack/index.ts";
import { usageText } from "../../fixtures/local-stack/usage.ts";
import { ensureDebianPackages, PeerUnavailable } from "../support/peers.ts";
import { runQuery } from "./support.ts";
import { eventually } from "../support/eventually.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited child of a killed parent may wait as a zombie until init reaps it: that is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The stack's component processes (its direct children, pgrep -P), checked to be the three it starts. */
function componentPids(stack: ChildProcess): number[] {
  const pids = execFileSync("pgrep", ["-P", String(stack.pid)])
    .toString()
    .trim()
    .split("\n")
    .map(Number);
  expect(pids.length, "operator, apiserver and gateway child processes").to.equal(3);
  return pids;
}

/**
 * Collects a starting stack's stdout and stderr and waits until it printed its instructions (the last line is
 * "Ctrl-C stops everything"); both ways of starting it (the script, a real npm) wait the same way.
 */
async function untilInstructions(started: ChildProcess, whose: string): Promise<() => string> {
  let output = "";
  started.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  started.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await eventually(
    `${whose} 'Ctrl-C stops everything' line`,
    () => output.includes("Ctrl-C stops everything") || started.exitCode !== null,
    40_000,
  );
  expect(output, output).to.include("Ctrl-C stops everything");
  return () => output;
}

/** Starts `npm start`'s script and resolves once it printed its instructions. */
async function startStack(): Promise<{ child: ChildProcess; output: () => string }> {
  const started = spawn(process.execPath, [path.join(repoRoot, "fixtures", "local-stack", "main.ts"), "--gateway-port", "0"], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { child: started, output: await untilInstructions(started, "the") };
}

describe("local stack: npm start", function () {
  this.timeout(60_000);
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
  });

  it("shows progress, prints working query instructions for the example specs, and stops cleanly on SIGTERM", async () => {
    const stack = await startStack();
    child = stack.child;
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    let output = stack.output();

    const steps = output.split("\n").filter((line) => /^\[\d+\] /.test(line));
    expect(steps.length, output).to.be.at.least(7);
    expect(steps.at(-1)).to.match(/^\[\d+\] ready/);
    for (const component of ["Kubernetes API test server", "operator", "lifecycle API server", "gateway", "example specs"]) {
      expect(
        steps.some((line) => line.includes(component)),
        `progress line for ${component}`,
      ).to.equal(true);
    }
    const gatewayUrl = /Gateway: (http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1];
    const logDir = /Logs: (\S+)/.exec(output)![1];
    const tempDir = path.dirname(logDir);
    expect(output).to.include("analytics/bi").and.include("adhoc.trino.example.com").and.include("X-Trino-XTrinode");

    // The printed console URL serves the console, and the printed token logs in.
    const [, consoleUrl, loginToken] = /Console: (http:\/\/127\.0\.0\.1:\d+\/console\/)\n.*: ([0-9a-f]+)\n/.exec(output) ?? [];
    expect(consoleUrl, output).to.be.a("string");
    expect(await (await fetch(consoleUrl)).text()).to.include("<title>XTrinode console</title>");
    const whoami = await fetch(new URL("/v1/whoami", consoleUrl), { headers: { authorization: `Bearer ${loginToken}` } });
    expect(((await whoami.json()) as { username: string }).username).to.equal("local-admin");

    // The printed instructions work: a query by header to each example runtime.
    for (const runtime of ["analytics/bi", "analytics/adhoc"]) {
      const outcome = await eventually(
        `a query to ${runtime}`,
        async () => {
          const result = await runQuery(
            Trino.create({ server: gatewayUrl, auth: new BasicAuth("me"), extraHeaders: { "X-Trino-XTrinode": runtime } }),
            "SELECT 42",
          );
          return result.state === "FINISHED" ? result : undefined;
        },
        15_000,
      );
      expect(outcome.rows).to.deep.equal([[42]]);
    }

    // The printed curl commands (by header, by hostname) follow the query to its end and print its rows.
    const curlLines = output
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.startsWith("q() { curl"));
    expect(curlLines.length, output).to.equal(2);
    let curlMissing: string | undefined;
    await ensureDebianPackages(["curl"]).catch((error: unknown) => {
      if (!(error instanceof PeerUnavailable)) throw error;
      curlMissing = error.message;
    });
    if (curlMissing) process.stdout.write(`\n  SKIPPED running the printed curl commands: ${curlMissing}\n`);
    else {
      for (const line of curlLines) {
        const ran = spawnSync("bash", ["-c", line], { encoding: "utf8", timeout: 30_000 });
        expect(ran.stdout, `${line}\n${ran.stderr}`).to.equal('"data":[[1]]\n"state":"FINISHED"\n');
      }
    }

    const childPids = componentPids(child);
    child.kill("SIGTERM");
    expect(await exited).to.equal(0);
    output = stack.output();
    expect(output).to.include("stopped.");
    for (const pid of childPids) expect(alive(pid), `child ${pid} after stop`).to.equal(false);
    expect(existsSync(tempDir), `${tempDir} removed`).to.equal(false);
  });

  it("leaves no component running when it is SIGKILLed (they stop themselves when their stdin pipe ends), and the next start removes its temp dir", async () => {
    const stack = await startStack();
    child = stack.child;
    const tempDir = path.dirname(/Logs: (\S+)/.exec(stack.output())![1]);
    const childPids = componentPids(child);
    child.kill("SIGKILL");
    try {
      await eventually("every component to stop by itself", () => childPids.every((pid) => !alive(pid)), 20_000);
      expect(existsSync(tempDir), "the killed stack could not remove its temp dir").to.equal(true);
      // What the next start does first (the dir's owner is gone):
      if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child!.once("exit", resolve)); // reaped
      expect(removeAbandonedStackDirs(path.dirname(tempDir))).to.include(tempDir);
      expect(existsSync(tempDir)).to.equal(false);
    } finally {
      rmSync(tempDir, { recursive: true, force: true });
    }
  });
});

/** Every process of a process group (pgrep -g); none once all have exited. */
function groupPids(pgid: number): number[] {
  const listed = spawnSync("pgrep", ["-g", String(pgid)])
    .stdout.toString()
    .trim();
  return listed ? listed.split("\n").map(Number).filter(alive) : [];
}

/** A real `npm start` in its own process group, resolved once it printed its instructions. */
async function startNpm(): Promise<{ npm: ChildProcess; output: () => string }> {
  // npm (not node): what a user runs. Its own group, so the test can signal "the group" like a shell's job control.
  const npm = spawn("npm", ["start", "--", "--gateway-port", "0"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"], detached: true });
  return { npm, output: await untilInstructions(npm, "npm start's") };
}

describe("local stack: a real `npm start` stopped by a plain kill", function () {
  this.timeout(90_000);
  let pgid: number | undefined;
  afterEach(() => {
    // Whatever the test saw, leave nothing of this group behind.
    for (const pid of pgid ? groupPids(pgid) : []) process.kill(pid, "SIGKILL");
  });

  for (const [what, signal, target] of [
    ["SIGTERM to the npm process (kill $!)", "SIGTERM", "npm"],
    ["SIGINT to the process group (Ctrl-C)", "SIGINT", "group"],
    ["SIGTERM to the process group", "SIGTERM", "group"],
  ] as const) {
    it(`${what} stops every process and removes the temp dir`, async () => {
      const { npm, output } = await startNpm();
      pgid = npm.pid!;
      const tempDir = path.dirname(/Logs: (\S+)/.exec(output())![1]);
      const pids = groupPids(pgid);
      // npm, the stack (node main.ts, perhaps under sh) and its operator, lifecycle API and gateway.
      expect(pids.length, spawnSync("ps", ["-o", "pid,ppid,cmd", "-g", String(pgid)]).stdout.toString()).to.be.at.least(5);
      process.kill(target === "npm" ? npm.pid! : -pgid, signal);
      await eventually("every process of npm start's group to exit", () => groupPids(pgid!).length === 0, {
        timeoutMs: 30_000,
        describe: () => spawnSync("ps", ["-o", "pid,ppid,stat,cmd", "-g", String(pgid)]).stdout.toString(),
      });
      expect(existsSync(tempDir), `${tempDir} removed`).to.equal(false);
    });
  }
});

describe("local stack: pure parts", () => {
  it("removes only temp dirs whose owning process is gone", () => {
    const parent = mkdtempSync(path.join(tmpdir(), "xtrinode-sweep-test-"));
    try {
      const exited = spawnSync(process.execPath, ["-e", ""]).pid!;
      const make = (name: string, owner?: number) => {
        mkdirSync(path.join(parent, name));
        if (owner !== undefined) writeFileSync(path.join(parent, name, "owner.pid"), String(owner));
        return path.join(parent, name);
      };
      const abandoned = make("xtrinode-local-abandoned", exited);
      const running = make("xtrinode-local-running", process.pid);
      const starting = make("xtrinode-local-starting");
      const unrelated = make("something-else", exited);
      expect(removeAbandonedStackDirs(parent)).to.deep.equal([abandoned]);
      for (const kept of [running, starting, unrelated]) expect(existsSync(kept), kept).to.equal(true);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it("rewrites every route backend to the local coordinator and keeps everything else", () => {
    const text = yaml.dump({
      apiVersion: "xtrinode.io/v1alpha1",
      kind: "GatewayRoutes",
      routes: [
        { name: "a", namespace: "t", backend: "http://a-trino.t.svc.cluster.local:8080", hostnames: ["a.example.com"], state: "PAUSED" },
        { name: "b", namespace: "t", backend: "http://b-trino.t.svc.cluster.local:8080", default: true, state: "RUNNING" },
      ],
    });
    const document = decodeRoutes(text, { mode: "lenient" }).document!;
    const local = rewriteBackends(document, (entry) => `http://127.0.0.1:${entry.name === "a" ? 1001 : 1002}`);
    expect(local.routes).to.deep.equal([
      { name: "a", namespace: "t", backend: "http://127.0.0.1:1001", hostnames: ["a.example.com"], state: "PAUSED" },
      { name: "b", namespace: "t", backend: "http://127.0.0.1:1002", default: true, state: "RUNNING" },
    ]);
    expect(document.routes[0].backend).to.equal("http://a-trino.t.svc.cluster.local:8080"); // input untouched
    expect(decodeRoutes("routes: [", { mode: "lenient" }).document).to.equal(null);
    expect(decodeRoutes("just text", { mode: "lenient" }).document).to.equal(null);
  });

  it("recognises coordinator Deployments by their labels only", () => {
    const object = (component: string, runtime?: string) => ({
      metadata: { labels: { "app.kubernetes.io/component": component, ...(runtime ? { "xtrinode.io/runtime": runtime } : {}) } },
    });
    expect(coordinatorOf({ kind: "Deployment", namespace: "t", object: object("coordinator", "a") })).to.deep.equal({
      namespace: "t",
      name: "a",
    });
    expect(coordinatorOf({ kind: "Deployment", namespace: "t", object: object("worker", "a") })).to.equal(undefined);
    expect(coordinatorOf({ kind: "Deployment", namespace: "t", object: object("coordinator") })).to.equal(undefined);
    expect(coordinatorOf({ kind: "StatefulSet", namespace: "t", object: object("coordinator", "a") })).to.equal(undefined);
  });

  it("creates one placeholder Secret per referenced Secret with every referenced key", () => {
    const secrets = placeholderSecrets([
      {
        metadata: { namespace: "t" },
        spec: { secretProperties: { user: { secretName: "db", key: "username" }, password: { secretName: "db", key: "password" } } },
      },
      { metadata: {}, spec: { secretProperties: { token: { secretName: "api", key: "token" } } } },
      { metadata: { namespace: "t" }, spec: {} },
    ]) as Array<{ metadata: { namespace: string; name: string }; data: Record<string, string> }>;
    expect(secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}:${Object.keys(s.data).sort().join(",")}`)).to.deep.equal([
      "t/db:password,username",
      "default/api:token",
    ]);
  });

  it("prints header and hostname instructions for the first runtime with a hostname, and the console URL with its login token", () => {
    const text = usageText({
      gatewayUrl: "http://127.0.0.1:8080",
      apiServerUrl: "http://127.0.0.1:9000",
      kubeconfigPath: "/tmp/x/kubeconfig",
      adminTokenFile: "/tmp/x/admin-token",
      gatewayAdminTokenFile: "/tmp/x/gateway-admin-token",
      consoleUrl: "http://127.0.0.1:9000/console/",
      adminToken: "0123abcd",
      logDir: "/tmp/x/logs",
      runtimes: [{ namespace: "n", name: "r", hostnames: ["r.example.com"], default: true }],
    });
    expect(text)
      .to.include("X-Trino-XTrinode: n/r")
      .and.include("--resolve r.example.com:8080:127.0.0.1")
      .and.include("trino --server http://r.example.com:8080");
    expect(text).to.include("$(cat /tmp/x/admin-token)");
    expect(text).to.include(
      "npx xtrinode status -A --kubeconfig /tmp/x/kubeconfig --gateway-url http://127.0.0.1:8080 --gateway-token-file /tmp/x/gateway-admin-token",
    );
    expect(text).to.match(/Console: http:\/\/127\.0\.0\.1:9000\/console\/\n.*admin token.*: 0123abcd/);
  });
});
