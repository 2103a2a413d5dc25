// `xtrinode gateway` as a process: JSON ready line, probes, clean stop on SIGTERM, and a clear
// error for a bad config file.
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { gatewayNodeFlags } from "../../gateway/node-flags.ts";
import { RoutesFile } from "./support/harness.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cli = path.join(repoRoot, "bin/xtrinode.ts");

function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): {
  child: ChildProcess;
  ready: Promise<{ url: string }>;
  exit: Promise<{ code: number | null; stderr: string }>;
} {
  const child = spawn(process.execPath, [cli, "gateway", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, XTRINODE_LOG_LEVEL: "info", ...env },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
  const ready = new Promise<{ url: string }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === "listening" && event.url) resolve({ url: event.url });
      } catch {
        // not a JSON line
      }
    });
    void exit.then(({ code, stderr: text }) => reject(new Error(`gateway exited (${code}) before listening: ${text}`)));
  });
  return { child, ready, exit };
}

describe("xtrinode gateway (process)", function () {
  this.timeout(30_000);
  let routes: RoutesFile;
  let child: ChildProcess | undefined;
  before(() => {
    routes = new RoutesFile();
    routes.write([{ namespace: "team-a", name: "a", backend: "http://127.0.0.1:9", state: "PAUSED", default: true }]);
  });
  afterEach(() => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    child = undefined;
  });
  after(() => routes.remove());

  it("prints the ready line, serves probes, and stops cleanly on SIGTERM", async () => {
    const started = startCli(["--workers", "1", "--port", "0", "--host", "127.0.0.1", "--routes-file", routes.file]);
    child = started.child;
    const { url } = await started.ready;
    expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    expect((await fetch(`${url}/readyz`)).status).to.equal(200);
    child.kill("SIGTERM");
    expect((await started.exit).code).to.equal(0);
  });

  it("runs under the gateway's V8 heap flags (same process, restarted with them), a flag given in NODE_OPTIONS winning", async () => {
    const args = ["--workers", "1", "--port", "0", "--host", "127.0.0.1", "--routes-file", routes.file];
    const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    let started = startCli(args);
    child = started.child;
    await started.ready;
    expect(commandLine(child.pid!)).to.include.members([...gatewayNodeFlags]);
    child.kill("SIGTERM");
    expect((await started.exit).code).to.equal(0);

    started = startCli(args, { NODE_OPTIONS: "--max-semi-space-size=8" });
    child = started.child;
    await started.ready;
    const flags = commandLine(child.pid!);
    expect(flags).to.include(gatewayNodeFlags.find((flag) => flag.startsWith("--heap-growing-percent")));
    expect(flags.filter((flag) => flag.startsWith("--max-semi-space-size"))).to.deep.equal([]);
  });

  it("refuses an invalid config file naming the file and field (before starting workers)", async () => {
    const config = path.join(routes.dir, "gateway.yaml");
    writeFileSync(config, "rateLimit:\n  queriesPerSecnd: 5\n");
    const started = startCli(["--workers", "2", "--port", "0", "--host", "127.0.0.1", "--routes-file", routes.file, "--config", config]);
    child = started.child;
    started.ready.catch(() => undefined);
    const { code, stderr } = await started.exit;
    expect(code).to.not.equal(0);
    expect(stderr).to.contain(config).and.contain("queriesPerSecnd");
  });

  it("refuses a --workers value that is not a whole number from 1 to 64", async () => {
    const started = startCli(["--workers", "0", "--port", "0", "--host", "127.0.0.1", "--routes-file", routes.file]);
    child = started.child;
    started.ready.catch(() => undefined);
    const { code, stderr } = await started.exit;
    expect(code).to.not.equal(0);
    expect(stderr).to.contain("--workers").and.contain("1 to 64");
  });
});
