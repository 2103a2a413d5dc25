// `xtrinode gateway`: serves the Trino-facing gateway until SIGTERM/SIGINT.
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { createLogger } from "../lib/logger.ts";
import { defaultGatewayNamespace, routesConfigMapName } from "../schemas/api/index.ts";
import { loadGatewayConfig } from "./config.ts";
import { configMapRoutesSource, fileRoutesSource, type RoutesSource } from "./routes-source.ts";
import { isGatewayWorker, parseWorkerCount, runPrimary, usableCpus, WorkerLink } from "./workers.ts";

// In a pod the gateway calls the lifecycle API with its ServiceAccount token (rotated: re-read per call).
const serviceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount/token";

interface GatewayCommandOptions {
  port: string;
  host: string;
  routesFile?: string;
  kubeconfig?: string;
  routesNamespace: string;
  config?: string;
  lifecycleUrl?: string;
  apiserverUrl?: string;
  lifecycleTokenFile?: string;
  workers?: string;
}

export function registerGatewayCommands(program: Command): void {
  program
    .command("gateway")
    .description("Run the Trino-facing gateway: routing, sticky queries, auth, rate limits, health checks, auto-resume.")
    .option("--port <port>", "listen port (0 for any)", "8080")
    .option("--host <host>", "listen address", "0.0.0.0")
    .option("--routes-file <file>", "read routes from this file (watched) instead of the ConfigMap")
    .option("--kubeconfig <file>", "kubeconfig for the routes ConfigMap watch (default: in-cluster, then $KUBECONFIG)")
    .option("--routes-namespace <namespace>", `namespace of ConfigMap ${routesConfigMapName}`, defaultGatewayNamespace)
    .option("--config <file>", "gateway config (schemas/gateway-config.schema.json)")
    .option("--lifecycle-url <url>", "lifecycle API base URL (resume and activity calls)")
    .option("--apiserver-url <url>", "same as --lifecycle-url")
    .option(
      "--lifecycle-token-file <file>",
      `file holding the lifecycle API bearer token, re-read on each call (default in a pod: ${serviceAccountTokenPath})`,
    )
    .option(
      "--workers <count>",
      "worker processes sharing the port (default: the CPUs this container may use, cgroup CPU limit included); 1 serves in this process",
    )
    .action(async (options: GatewayCommandOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${options.port}" is not a port number`);
      const workers = options.workers === undefined ? usableCpus() : parseWorkerCount(options.workers);
      const worker = isGatewayWorker() ? new WorkerLink() : undefined;
      const logger = worker ? createLogger("gateway").child({ worker: worker.index }) : createLogger("gateway");
      // Workers get routes from the primary (workers.ts). The Kubernetes client (~60 MiB resident)
      // is loaded only for the ConfigMap source.
      const routesSource: RoutesSource = worker
        ? worker.routesSource()
        : options.routesFile
          ? fileRoutesSource(options.routesFile, logger)
          : configMapRoutesSource(
              (await import("../lib/kube-config.ts")).loadKubeConfig(options.kubeconfig),
              options.routesNamespace,
              logger,
            );
      if (!worker && workers > 1) {
        // Fail before forking when the config is invalid (every worker would fail the same way).
        if (options.config) loadGatewayConfig(options.config);
        await runPrimary({ workers, routesSource, logger });
        return;
      }
      const tokenFile = options.lifecycleTokenFile ?? (existsSync(serviceAccountTokenPath) ? serviceAccountTokenPath : undefined);
      // Imported here: the primary of --workers N serves no request and never loads the gateway itself.
      const { startGateway } = await import("./server.ts");
      const gateway = await startGateway({
        routesSource,
        config: options.config ? loadGatewayConfig(options.config) : undefined,
        port,
        host: options.host,
        lifecycleUrl: options.lifecycleUrl ?? options.apiserverUrl,
        lifecycleToken: tokenFile ? () => readFileSync(tokenFile, "utf8").trim() : undefined,
        logger,
        worker,
      });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ event: "stopping", signal }, "gateway stopping");
        // Requests in progress (long polls) get a moment; clients retry polls on a fresh connection.
        void gateway.close(10_000).then(() => process.exit(0));
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
      worker?.onShutdown(() => stop("primary"));
    });
}
