// A minimal HTTP client for tests and the resume-stampede benchmark: keep-alive agent, JSON bodies,
// and child processes of `xtrinode apiserver` started on ephemeral ports (always stopped by the caller).
import http from "node:http";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
  ms: number;
}

export function request(
  url: string,
  options: { method?: string; token?: string; body?: string | object; agent?: http.Agent } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const body = typeof options.body === "object" ? JSON.stringify(options.body) : options.body;
  if (body !== undefined) headers["content-type"] = "application/json";
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? "GET", headers, agent: options.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - started });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.end(body);
  });
}

/**
 * How long an `xtrinode apiserver` may take to print its ready line: each start costs about 2 s of CPU, and three
 * replicas starting at once at load average 20 took over 20 s. A hook that starts one must allow at least this.
 */
export const apiServerReadyTimeoutMs = 60_000;

const cliPath = fileURLToPath(new URL("../../bin/xtrinode.ts", import.meta.url));

export interface ApiServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node bin/xtrinode.ts apiserver --port 0 --host 127.0.0.1 <args>` and waits for its ready line. */
export function spawnApiServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ApiServerProcess> {
  const child = spawn(process.execPath, [cliPath, "apiserver", "--port", "0", "--host", "127.0.0.1", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, XTRINODE_LOG_LEVEL: "warn", ...env },
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`apiserver did not become ready within ${apiServerReadyTimeoutMs / 1000} s: ${stderr}`));
    }, apiServerReadyTimeoutMs);
    lines.on("line", (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string; component?: string };
        if (event.event === "listening" && event.url && event.component === undefined) {
          clearTimeout(timer);
          resolve({ url: event.url, child, stop });
        }
      } catch {
        // not a JSON line: ignore
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`apiserver exited with ${code} before it was ready: ${stderr}`));
    });
  });
}
