// A real Kubernetes control plane for tests, on 127.0.0.1 with ephemeral ports: etcd, one or more
// kube-apiservers sharing it (RBAC, static admin token, ServiceAccount tokens, a JSON audit log of every
// request of the components under test) and kube-controller-manager (Deployment/ReplicaSet controllers, garbage collector, namespace
// deletion, ServiceAccounts). No kubelet and no scheduler: PodSimulator (pod-simulator.ts) stands in for nodes.
// Every process runs in its own process group and is killed by stop(); data lives in one temp folder.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { ensureDebianPackages, peerProgress } from "../support/peers.ts";
import { AuditLog } from "./audit.ts";
import { ensureControlPlaneBinaries, type ControlPlaneBinaries } from "./build.ts";
import { eventually } from "../support/eventually.ts";

export interface RealClusterOptions {
  /** kube-apiservers sharing one etcd (default 1). */
  apiServers?: number;
  /** Start kube-controller-manager (default true). */
  controllerManager?: boolean;
}

export interface RealApiServer {
  url: string;
  /** Admin (system:masters) kubeconfig file pointing at this API server. */
  kubeconfigPath: string;
  auditFile: string;
}

export interface RealCluster {
  version: string;
  dir: string;
  servers: RealApiServer[];
  /** Admin kubeconfig of the first API server. */
  kubeconfigPath: string;
  kubeConfig(server?: number): KubeConfig;
  audit: AuditLog;
  /** A kubeconfig file (token from the TokenRequest API) acting as ServiceAccount namespace/name, on API server `server`. */
  serviceAccountKubeconfig(namespace: string, name: string, server?: number): Promise<string>;
  /** Admin request through plain HTTPS (for what client-node has no call for); JSON in, JSON out; PATCH is a merge patch. */
  request(method: string, apiPath: string, body?: unknown, server?: number): Promise<{ status: number; body: any }>;
  logTail(component: string, lines?: number): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) killGroup(child, "SIGKILL");
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return void live.delete(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  live.delete(child);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** CA, API server serving certificate (127.0.0.1, the in-cluster names), ServiceAccount signing key pair. */
function writePki(dir: string): void {
  mkdirSync(dir, { recursive: true });
  openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "30",
    "-subj",
    "/CN=xtrinode-real-k8s-ca",
  ]);
  openssl(dir, [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "apiserver.key",
    "-out",
    "apiserver.csr",
    "-subj",
    "/CN=kube-apiserver",
  ]);
  writeFileSync(
    path.join(dir, "apiserver.ext"),
    "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n",
  );
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    "apiserver.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "apiserver.crt",
    "-days",
    "30",
    "-extfile",
    "apiserver.ext",
  ]);
  openssl(dir, ["genrsa", "-out", "sa.key", "2048"]);
  openssl(dir, ["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

/**
 * Metadata level for every request of the components under test (reads too, so an RBAC denial of a read
 * shows), nothing for the control plane's own traffic and the test's admin reads (they would drown them).
 */
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: None
    users: ["system:apiserver", "system:kube-controller-manager", "system:kube-scheduler"]
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: None
    users: ["admin"]
    verbs: [get, list, watch]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
  - level: Metadata
`;

export function kubeconfigYaml(server: string, caFile: string, user: string, token: string): string {
  const ca = readFileSync(caFile).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: real-k8s",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    `- name: ${user}`,
    "  context: { cluster: real-k8s, user: " + user + " }",
    `current-context: ${user}`,
    "",
  ].join("\n");
}

interface Component {
  name: string;
  child: ChildProcess;
  logFile: string;
}

function startComponent(dir: string, name: string, binary: string, args: string[]): Component {
  const logFile = path.join(dir, "logs", `${name}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  live.add(child);
  return { name, child, logFile };
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Waits for a component to come up; stops at once, with its log's tail, if it exits first. */
async function waitUntil(what: string, component: Component, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  await eventually(what, probe, {
    timeoutMs,
    intervalMs: 200,
    abortIf: () =>
      component.child.exitCode !== null ? `${component.name} exited (${component.child.exitCode}):\n${tail(component.logFile)}` : undefined,
    describe: () => `\n${tail(component.logFile)}`,
  });
}

function httpsJson(url: string, ca: Buffer, token: string, method = "GET", body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      url,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(payload ? { "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json" } : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain text (healthz)
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.end(payload);
  });
}

/** Builds (first time) and starts the control plane; throws PeerUnavailable when it cannot be had. */
export async function startRealCluster(options: RealClusterOptions = {}): Promise<RealCluster> {
  await ensureDebianPackages(["openssl"]);
  const binaries: ControlPlaneBinaries = await ensureControlPlaneBinaries();
  const dir = mkdtempSync(path.join(tmpdir(), "xtrinode-real-k8s-"));
  const components: Component[] = [];
  const stop = async () => {
    await Promise.all(
      [...components]
        .reverse()
        .filter((c) => c.name !== "etcd")
        .map((c) => stopChild(c.child)),
    );
    await Promise.all(components.filter((c) => c.name === "etcd").map((c) => stopChild(c.child)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const started = Date.now();
    const pki = path.join(dir, "pki");
    writePki(pki);
    const ca = readFileSync(path.join(pki, "ca.crt"));
    /** A kubeconfig for one user's token, owner-only (it holds the token): the admin, the controller manager and each ServiceAccount get one. */
    const writeKubeconfig = (file: string, server: string, user: string, token: string) =>
      writeFileSync(file, kubeconfigYaml(server, path.join(pki, "ca.crt"), user, token), { mode: 0o600 });
    const adminToken = randomBytes(24).toString("hex");
    const kcmToken = randomBytes(24).toString("hex");
    const tokenFile = path.join(pki, "tokens.csv");
    writeFileSync(tokenFile, `${adminToken},admin,admin-uid,"system:masters"\n${kcmToken},system:kube-controller-manager,kcm-uid\n`, {
      mode: 0o600,
    });
    writeFileSync(path.join(dir, "audit-policy.yaml"), auditPolicy);

    const [etcdClient, etcdPeer] = [await freePort(), await freePort()];
    const etcd = startComponent(dir, "etcd", binaries.etcd, [
      "--name",
      "default",
      "--data-dir",
      path.join(dir, "etcd"),
      "--listen-client-urls",
      `http://127.0.0.1:${etcdClient}`,
      "--advertise-client-urls",
      `http://127.0.0.1:${etcdClient}`,
      "--listen-peer-urls",
      `http://127.0.0.1:${etcdPeer}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${etcdPeer}`,
      "--initial-cluster",
      `default=http://127.0.0.1:${etcdPeer}`,
      "--log-level",
      "warn",
      "--unsafe-no-fsync",
    ]);
    components.push(etcd);
    await waitUntil(
      "etcd healthy",
      etcd,
      async () => ((await (await fetch(`http://127.0.0.1:${etcdClient}/health`)).json()) as { health?: string }).health === "true",
      30_000,
    );

    const servers: RealApiServer[] = [];
    for (let i = 0; i < (options.apiServers ?? 1); i++) {
      const port = await freePort();
      const auditFile = path.join(dir, "logs", `audit-${i}.log`);
      const apiserver = startComponent(dir, `kube-apiserver-${i}`, binaries.kubeApiserver, [
        "--etcd-servers",
        `http://127.0.0.1:${etcdClient}`,
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--secure-port",
        String(port),
        "--tls-cert-file",
        path.join(pki, "apiserver.crt"),
        "--tls-private-key-file",
        path.join(pki, "apiserver.key"),
        "--token-auth-file",
        tokenFile,
        "--authorization-mode",
        "RBAC",
        "--service-account-issuer",
        "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file",
        path.join(pki, "sa.pub"),
        "--service-account-signing-key-file",
        path.join(pki, "sa.key"),
        "--service-cluster-ip-range",
        "10.0.0.0/24",
        // Endpoints may not hold a loopback address; one etcd, so no lease-based reconciler needed.
        "--endpoint-reconciler-type",
        "none",
        "--audit-log-path",
        auditFile,
        "--audit-policy-file",
        path.join(dir, "audit-policy.yaml"),
        "--audit-log-format",
        "json",
        "--audit-log-mode",
        "blocking",
        "--enable-priority-and-fairness=false",
        "--profiling=false",
      ]);
      components.push(apiserver);
      const url = `https://127.0.0.1:${port}`;
      await waitUntil(
        `kube-apiserver ${i} ready`,
        apiserver,
        async () => (await httpsJson(`${url}/readyz`, ca, adminToken)).status === 200,
        120_000,
      );
      const kubeconfigPath = path.join(dir, `admin-${i}.kubeconfig`);
      writeKubeconfig(kubeconfigPath, url, "admin", adminToken);
      servers.push({ url, kubeconfigPath, auditFile });
    }

    if (options.controllerManager ?? true) {
      const kcmKubeconfig = path.join(pki, "kcm.kubeconfig");
      writeKubeconfig(kcmKubeconfig, servers[0].url, "system:kube-controller-manager", kcmToken);
      const kcm = startComponent(dir, "kube-controller-manager", binaries.kubeControllerManager, [
        "--kubeconfig",
        kcmKubeconfig,
        "--authentication-kubeconfig",
        kcmKubeconfig,
        "--authorization-kubeconfig",
        kcmKubeconfig,
        "--use-service-account-credentials",
        "--service-account-private-key-file",
        path.join(pki, "sa.key"),
        "--root-ca-file",
        path.join(pki, "ca.crt"),
        "--leader-elect=false",
        "--bind-address",
        "127.0.0.1",
        "--secure-port",
        "0",
        "--cluster-signing-cert-file",
        path.join(pki, "ca.crt"),
        "--cluster-signing-key-file",
        path.join(pki, "ca.key"),
        // What the tier relies on (no nodes, so nothing node- or volume-related): Deployments and ReplicaSets,
        // garbage collection, namespace deletion, ServiceAccounts, ResourceQuota usage (quota admission needs
        // it), PodDisruptionBudget status, pod GC and the root CA ConfigMap.
        "--controllers",
        "deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,resourcequota-controller,disruption-controller,pod-garbage-collector-controller,root-ca-certificate-publisher-controller",
      ]);
      components.push(kcm);
      // The ServiceAccount controller creating `default` in `default` shows the controllers run.
      await waitUntil(
        "kube-controller-manager running (default ServiceAccount created)",
        kcm,
        async () => (await httpsJson(`${servers[0].url}/api/v1/namespaces/default/serviceaccounts/default`, ca, adminToken)).status === 200,
        120_000,
      );
    }
    peerProgress(
      "real-k8s",
      `Kubernetes ${binaries.version} up in ${Math.round((Date.now() - started) / 100) / 10} s: etcd + ${servers.length} kube-apiserver(s)${(options.controllerManager ?? true) ? " + kube-controller-manager" : ""} in ${dir}`,
    );

    const audit = new AuditLog(servers.map((server) => server.auditFile));
    const kubeConfigs = servers.map((server) => {
      const kc = new KubeConfig();
      kc.loadFromFile(server.kubeconfigPath);
      return kc;
    });
    return {
      version: binaries.version,
      dir,
      servers,
      kubeconfigPath: servers[0].kubeconfigPath,
      kubeConfig: (server = 0) => kubeConfigs[server],
      audit,
      async serviceAccountKubeconfig(namespace, name, server = 0) {
        const answer = await httpsJson(
          `${servers[server].url}/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
          ca,
          adminToken,
          "POST",
          {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: { expirationSeconds: 3600 },
          },
        );
        if (answer.status !== 201)
          throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
        const file = path.join(dir, `sa-${namespace}-${name}-${server}.kubeconfig`);
        writeKubeconfig(file, servers[server].url, `${namespace}-${name}`, answer.body.status.token);
        return file;
      },
      request: (method, apiPath, body, server = 0) => httpsJson(`${servers[server].url}${apiPath}`, ca, adminToken, method, body),
      logTail: (component, lines) => tail(path.join(dir, "logs", `${component}.log`), lines),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
