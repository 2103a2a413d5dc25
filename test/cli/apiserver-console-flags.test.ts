// `xtrinode apiserver` console flags: --console takes true or false, --gateway-url an http(s) URL, and
// --gateway-token-file a readable file; a bad value is one error line naming the flag, never a stack trace.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "xtrinode.ts");

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { timeout: 30_000, env: { ...process.env, KUBECONFIG: "/nonexistent-kubeconfig" } },
      (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stderr }),
    );
  });
}

describe("apiserver console flags", function () {
  this.timeout(60_000);

  it("--console accepts only true or false", async () => {
    const result = await run(["apiserver", "--console=maybe"]);
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('--console must be true or false, got "maybe"');
    expect(result.stderr).not.to.match(/^\s+at /m);
  });

  it("--gateway-url must be an http(s) URL", async () => {
    for (const value of ["gateway:8080", "ftp://gateway"]) {
      const result = await run(["apiserver", "--gateway-url", value]);
      expect(result.code, value).to.equal(1);
      expect(result.stderr).to.include("--gateway-url must be an http(s) URL");
    }
  });

  it("--gateway-token-file must be readable (exit 2, naming the flag and the file)", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "xtrinode-apiserver-flags-"));
    try {
      // A usable kubeconfig (nothing is called before the flags are checked), so the token file is what fails.
      const kubeconfig = path.join(dir, "kubeconfig");
      await writeFile(
        kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: k, cluster: {server: 'http://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n",
      );
      const result = await run([
        "apiserver",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--kubeconfig",
        kubeconfig,
        "--gateway-url",
        "http://127.0.0.1:1",
        "--gateway-token-file",
        path.join(dir, "absent"),
      ]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include(`--gateway-token-file ${path.join(dir, "absent")}: cannot read it (ENOENT)`);
      expect(result.stderr).not.to.match(/^\s+at /m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
