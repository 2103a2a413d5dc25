import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";

const mainPath = new URL("../../fixtures/kube-api-server/main.ts", import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  ready: { event: string; url: string; kubeconfig: string };
  lines: string[];
}

function start(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [mainPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      if (lines.length === 1) resolve({ child, ready: JSON.parse(line), lines });
    });
    child.on("exit", (code) => reject(new Error(`exited ${code} before ready: ${stderr}`)));
  });
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
    child.kill(signal);
  });
}

describe("kube-api-server: process mode", function () {
  this.timeout(30000);
  let dir: string;
  const children: ChildProcess[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "kube-api-process-"));
  });
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints one ready line, serves client-node, keeps state across a restart and exits cleanly on SIGTERM/SIGINT", async () => {
    const kubeconfig = join(dir, "kubeconfig");
    const state = join(dir, "state.json");
    const first = await start(["--port", "0", "--kubeconfig", kubeconfig, "--state", state, "--third-party-crds"]);
    children.push(first.child);
    expect(first.ready.event).to.equal("listening");
    expect(first.ready.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.ready.kubeconfig).to.equal(kubeconfig);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "kept" }, data: { a: "1" } } });
    const scaledObjects = { group: "keda.sh", version: "v1alpha1", namespace: "default", plural: "scaledobjects" };
    await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...scaledObjects,
      body: { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "so" } },
    });
    expect(await stop(first.child, "SIGTERM")).to.equal(0);
    expect(first.lines).to.have.length(1);

    const second = await start(["--port", "0", "--kubeconfig", kubeconfig, "--state", state]);
    children.push(second.child);
    const kc2 = new KubeConfig();
    kc2.loadFromFile(kubeconfig);
    const kept = await kc2.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: "kept", namespace: "default" });
    expect(kept.data).to.deep.equal({ a: "1" });
    const so = (await kc2.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...scaledObjects, name: "so" })) as {
      metadata: { name: string };
    };
    expect(so.metadata.name).to.equal("so");
    expect(await stop(second.child, "SIGINT")).to.equal(0);
  });

  it("rejects a bad flag with a clear message", async () => {
    const child = spawn(process.execPath, [mainPath, "--port", "x", "--kubeconfig", join(dir, "k")], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).to.equal(2);
    expect(stderr).to.contain("--port");
  });
});
