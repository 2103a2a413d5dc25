// A TLS-terminating ingress in front of the gateway, as in a cluster: Debian's nginx with a
// self-signed certificate (openssl) for the runtime's hostname, proxy_pass to the gateway with the
// client's Host, X-Forwarded-Proto https and X-Forwarded-For. Its own prefix, configuration, pid,
// temp and log paths in a temporary directory (never the system nginx service), on an ephemeral port.
// The certificate is also put in a PKCS12 truststore (keytool) for the Java clients.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ensureDebianPackages, PeerUnavailable } from "../../support/peers.ts";
import { freePort, javaHome } from "../../support/trino-peers.ts";

const execFileAsync = promisify(execFile);

export interface TlsIngress {
  port: number;
  /** The certificate (PEM): Python's `verify`. */
  caFile: string;
  truststore: string;
  truststorePassword: string;
  /** `<scheme> <host> <status> <request line>` per request nginx served. */
  accessLog(): string[];
  stop(): Promise<void>;
}

async function run(command: string, args: string[], peer: string): Promise<void> {
  try {
    await execFileAsync(command, args, { maxBuffer: 16 << 20 });
  } catch (error) {
    throw new PeerUnavailable(
      peer,
      `${path.basename(command)} failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

export async function startTlsIngress(options: { upstreamPort: number; hostnames: string[] }): Promise<TlsIngress> {
  await ensureDebianPackages(["nginx", "openssl"]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "xtrinode-ingress-"));
  const cert = path.join(dir, "ingress.crt");
  const key = path.join(dir, "ingress.key");
  const truststore = path.join(dir, "truststore.p12");
  const truststorePassword = "ingress-truststore";
  const san = [...options.hostnames.map((name) => `DNS:${name}`), "IP:127.0.0.1"].join(",");
  await run(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      `/CN=${options.hostnames[0]}`,
      "-addext",
      `subjectAltName=${san}`,
    ],
    "openssl (ingress certificate)",
  );
  await run(
    path.join(javaHome, "bin", "keytool"),
    [
      "-importcert",
      "-noprompt",
      "-alias",
      "ingress",
      "-file",
      cert,
      "-keystore",
      truststore,
      "-storetype",
      "PKCS12",
      "-storepass",
      truststorePassword,
    ],
    "keytool (ingress truststore)",
  );
  const port = await freePort();
  const accessLog = path.join(dir, "access.log");
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    path.join(dir, "nginx.conf"),
    `${asRoot ? "user root;\n" : ""}daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  log_format ingress '$scheme $host $status $request';
  access_log ${accessLog} ingress;
  client_body_temp_path ${dir}/client-body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      proxy_pass http://127.0.0.1:${options.upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`,
  );
  const nginx = spawn("/usr/sbin/nginx", ["-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  nginx.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => nginx.once("exit", () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!(await listening(port))) {
    if (nginx.exitCode !== null || Date.now() > deadline) {
      nginx.kill("SIGKILL");
      const log = (() => {
        try {
          return readFileSync(path.join(dir, "error.log"), "utf8");
        } catch {
          return "";
        }
      })();
      rmSync(dir, { recursive: true, force: true });
      throw new PeerUnavailable("nginx", `did not listen on 127.0.0.1:${port}: ${(stderr + log).trim().split("\n").slice(-3).join(" | ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    caFile: cert,
    truststore,
    truststorePassword,
    accessLog: () =>
      readFileSync(accessLog, "utf8")
        .split("\n")
        .filter((line) => line.length > 0),
    async stop() {
      if (nginx.exitCode === null) {
        nginx.kill("SIGQUIT"); // graceful: finish the requests in flight
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (nginx.exitCode === null) nginx.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
