// The real Kubernetes control plane of the real-k8s tier: kube-apiserver, kube-controller-manager and etcd,
// built with Go from the published Go modules pinned in test/real-k8s/go.mod (and go.sum), once, into
// ~/.cache/xtrinode/k8s/<version>/bin. Later runs find the binaries there (a stamp names the inputs they were
// built from) and start in seconds. No Go toolchain → PeerUnavailable naming what is missing.
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PeerUnavailable, peerCacheDir, peerProgress } from "../support/peers.ts";

const moduleDir = path.dirname(fileURLToPath(import.meta.url));
const tier = "real-k8s";

function goModText(): string {
  return readFileSync(path.join(moduleDir, "go.mod"), "utf8");
}

function requiredVersion(text: string, module: string): string {
  const match = new RegExp(`^\\s*${module.replaceAll(".", "\\.")}\\s+(v\\S+)`, "m").exec(text);
  if (!match) throw new Error(`test/real-k8s/go.mod: no require line for ${module}`);
  return match[1];
}

/** The Kubernetes version go.mod pins (e.g. v1.37.2): the version the tier tests against. */
export const kubernetesVersion = requiredVersion(goModText(), "k8s.io/kubernetes");
export const etcdVersion = requiredVersion(goModText(), "go.etcd.io/etcd/server/v3");

export interface ControlPlaneBinaries {
  version: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

/** What `version` and `kubectl version` report: k8s.io/kubernetes built outside its own tree would say v0.0.0. */
function versionLdflags(version: string): string[] {
  const [major, minor] = version.replace(/^v/, "").split(".");
  return ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${version}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
}

function findGo(): string {
  const candidates = [process.env.XTRINODE_GO, "go", "/usr/local/go/bin/go", "/usr/lib/go/bin/go"].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new PeerUnavailable(
    "Go toolchain",
    `no working \`go\` (tried ${candidates.join(", ")}; set XTRINODE_GO to a Go ≥ ${goDirective()} binary)`,
  );
}

function goDirective(): string {
  return /^go\s+(\S+)/m.exec(goModText())?.[1] ?? "?";
}

function checkGoVersion(go: string): void {
  const reported = execFileSync(go, ["env", "GOVERSION"], { encoding: "utf8" }).trim().replace(/^go/, "");
  const wanted = goDirective();
  const parts = (v: string) => v.split(/[.]/).map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parts(reported), parts(wanted)];
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) > (b[i] ?? 0)) return;
    if ((a[i] ?? 0) < (b[i] ?? 0))
      throw new PeerUnavailable(
        "Go toolchain",
        `${go} is go${reported}; Kubernetes ${kubernetesVersion} needs go ≥ ${wanted} (set XTRINODE_GO)`,
      );
  }
}

interface BuildStep {
  what: string;
  output: string;
  packages: string[];
  ldflags: string[];
}

function runGoBuild(go: string, step: BuildStep, env: NodeJS.ProcessEnv): Promise<void> {
  const args = [
    "-n",
    "10",
    go,
    "build",
    "-trimpath",
    `-ldflags=-s -w ${step.ldflags.join(" ")}`.trim(),
    "-o",
    step.output,
    ...step.packages,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("nice", args, { cwd: moduleDir, env, stdio: ["ignore", "ignore", "pipe"] });
    let downloads = 0;
    let tail = "";
    const started = Date.now();
    const ticker = setInterval(
      () =>
        peerProgress(
          tier,
          `  still building ${step.what} (${Math.round((Date.now() - started) / 60_000)} min, ${downloads} modules downloaded)`,
        ),
      60_000,
    );
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      downloads += text.split("\n").filter((line) => line.startsWith("go: downloading")).length;
      tail = (tail + text).slice(-4000);
    });
    child.once("error", (error) => (clearInterval(ticker), reject(error)));
    child.once("exit", (code) => {
      clearInterval(ticker);
      if (code === 0) resolve();
      else
        reject(
          new PeerUnavailable(
            `Kubernetes ${kubernetesVersion} (${step.what})`,
            `go build exited ${code}: ${tail.trim().split("\n").slice(-8).join(" | ")}`,
          ),
        );
    });
  });
}

/**
 * The control-plane binaries, built on first use (20+ minutes on 2 shared cores, with progress lines on stderr)
 * and cached afterwards. Throws PeerUnavailable when Go is missing or the build fails (the message says why).
 */
export async function ensureControlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  const versionDir = peerCacheDir("k8s", kubernetesVersion);
  const bin = path.join(versionDir, "bin");
  const ldflags = versionLdflags(kubernetesVersion);
  const goSum = path.join(moduleDir, "go.sum");
  // go.mod, go.sum (the build itself completes a missing go.sum, hence read again afterwards) and the flags.
  const stampOf = () =>
    createHash("sha256")
      .update(goModText())
      .update(existsSync(goSum) ? readFileSync(goSum) : "")
      .update(ldflags.join(" "))
      .digest("hex");
  const binaries: ControlPlaneBinaries = {
    version: kubernetesVersion,
    etcd: path.join(bin, "etcd"),
    kubeApiserver: path.join(bin, "kube-apiserver"),
    kubeControllerManager: path.join(bin, "kube-controller-manager"),
  };
  const stampFile = path.join(bin, "build-stamp");
  if (
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8") === stampOf() &&
    [binaries.etcd, binaries.kubeApiserver, binaries.kubeControllerManager].every(existsSync)
  )
    return binaries;

  const go = findGo();
  checkGoVersion(go);
  const goCache = peerCacheDir("go");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOMODCACHE: path.join(goCache, "mod"),
    GOCACHE: path.join(goCache, "cache"),
    GOFLAGS: "-mod=mod",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
  };
  // Straight into bin/: go build relinks only what changed (an up-to-date binary keeps its build ID). The stamp is
  // written last, so an interrupted build is never taken as done.
  rmSync(stampFile, { force: true });
  mkdirSync(bin, { recursive: true });
  const started = Date.now();
  peerProgress(
    tier,
    `building Kubernetes ${kubernetesVersion} (kube-apiserver, kube-controller-manager) and etcd ${etcdVersion} from Go modules into ${bin}`,
  );
  peerProgress(tier, `  first time only: 20+ minutes on 2 busy cores (module cache ${env.GOMODCACHE}, build cache ${env.GOCACHE})`);
  await runGoBuild(
    go,
    {
      what: "kube-apiserver and kube-controller-manager",
      output: `${bin}/`,
      packages: ["k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"],
      ldflags,
    },
    env,
  );
  peerProgress(tier, `  kube-apiserver and kube-controller-manager built (${Math.round((Date.now() - started) / 1000)} s); building etcd`);
  await runGoBuild(go, { what: "etcd", output: binaries.etcd, packages: ["go.etcd.io/etcd/server/v3"], ldflags: [] }, env);
  writeFileSync(stampFile, stampOf());
  peerProgress(tier, `built in ${Math.round((Date.now() - started) / 1000)} s: ${bin}`);
  return binaries;
}
