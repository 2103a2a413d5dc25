// `xtrinode operator` / `xtrinode apply` argument errors: the message names the flag, the bad value and the
// expected form; exit 1 for a malformed flag (commander), 2 for an unusable kubeconfig (as `xtrinode apiserver`);
// never a stack trace.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "xtrinode.ts");

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { timeout: 30_000, env: { ...process.env, KUBECONFIG: "/nonexistent-kubeconfig" } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}

function expectNoStackTrace(stderr: string): void {
  expect(stderr).not.to.match(/^\s+at /m);
  expect(stderr).not.to.match(/node:internal|Error: /);
}

describe("operator / apply argument errors", function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "xtrinode-cli-flags-"));
    await writeFile(path.join(dir, "no-cluster.yaml"), "apiVersion: v1\nkind: Config\nclusters: []\n");
    await writeFile(path.join(dir, "dangling.yaml"), "apiVersion: v1\nkind: Config\ncurrent-context: nope\nclusters: []\ncontexts: []\n");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const command of ["apply", "operator"]) {
    it(`${command} --kubeconfig: a missing file is one error line naming it, exit 2`, async () => {
      const result = await run([command, "--kubeconfig", path.join(dir, "absent.yaml")]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.equal(`error: --kubeconfig ${path.join(dir, "absent.yaml")}: no such file\n`);
      expect(result.stdout).to.equal("");
    });

    it(`${command} --kubeconfig: a kubeconfig without a cluster is named, exit 2`, async () => {
      const noCluster = await run([command, "--kubeconfig", path.join(dir, "no-cluster.yaml")]);
      expect(noCluster.code).to.equal(2);
      expect(noCluster.stderr).to.match(/^error: --kubeconfig \S+no-cluster\.yaml: no current cluster: set current-context/);
      expectNoStackTrace(noCluster.stderr);
      const dangling = await run([command, "--kubeconfig", path.join(dir, "dangling.yaml")]);
      expect(dangling.code).to.equal(2);
      expect(dangling.stderr).to.match(/^error: --kubeconfig \S+dangling\.yaml: current-context "nope" leads to no cluster/);
      expectNoStackTrace(dangling.stderr);
    });
  }

  const invalid: Array<[string[], RegExp]> = [
    [["--lease-duration", "15"], /--lease-duration must be a duration with a unit \(ms, s, m, h\) such as 30s, 15m or 1h30m, got "15"/],
    [["--retry-period", "2 s"], /--retry-period must be a duration with a unit .*got "2 s"/],
    [["--resync-period", "0s"], /--resync-period must be longer than 0, got "0s"/],
    [["--drain-period", "abc"], /--drain-period must be a duration with a unit .*got "abc"/],
    [["--workers", "abc"], /--workers must be a positive integer, got "abc"/],
    [["--workers", "0"], /--workers must be a positive integer, got "0"/],
    [["--workers", "1.5"], /--workers must be a positive integer, got "1.5"/],
    [["--metrics-port", "70000"], /--metrics-port must be 0\.\.65535, got "70000"/],
    [["--metrics-port", "http"], /--metrics-port must be 0\.\.65535, got "http"/],
  ];
  for (const [args, message] of invalid) {
    it(`operator ${args.join(" ")}: refused before anything starts, exit 1`, async () => {
      const result = await run(["operator", ...args]);
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(message);
      expect(result.stderr).to.include(`error: option '${args[0]} `);
      expectNoStackTrace(result.stderr);
      expect(result.stdout).not.to.include("ready");
    });
  }

  it("operator --help shows the defaults as typed", async () => {
    const result = await run(["operator", "--help"]);
    expect(result.stdout).to.match(/--lease-duration <duration>\s+leader lease duration[\s\S]*\(default: 15s\)/);
    // The takeover bound a user can plan with (measured 16 s after kill -9 with a 15 s lease): not "within" the lease.
    expect(result.stdout.replace(/\s+/g, " ")).to.contain("a standby takes over within it + 2 × --retry-period");
    expect(result.stdout).to.match(/--workers <n>[\s\S]*\(default: 4\)/);
  });
});
