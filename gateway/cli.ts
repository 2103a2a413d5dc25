// `xtrinode gateway`: serves the Trino-facing gateway until SIGTERM/SIGINT.
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { createLogger } from "../lib/logger.ts";
import { loadKubeConfig } from "../lib/kube-config.ts";
import { defaultGatewayNamespace, routesConfigMapName } from "../schemas/api/index.ts";
import { loadGatewayConfig } from "./config.ts";
import { configMapRoutesSource, fileRoutesSource, type RoutesSource } from "./routes-source.ts";
import { startGateway } from "./server.ts";

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
    .option("--lifecycle-token-file <file>", `file holding the lifecycle API bearer token, re-read on each call (default in a pod: ${serviceAccountTokenPath})`)
    .action(async (options: GatewayCommandOptions) => {
      const logger = createLogger("gateway");
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: "${options.port}" is not a port number`);
      const routesSource: RoutesSource = options.routesFile
        ? fileRoutesSource(options.routesFile, logger)
        : configMapRoutesSource(loadKubeConfig(options.kubeconfig), options.routesNamespace, logger);
      const tokenFile = options.lifecycleTokenFile ?? (existsSync(serviceAccountTokenPath) ? serviceAccountTokenPath : undefined);
      const gateway = await startGateway({
        routesSource,
        config: options.config ? loadGatewayConfig(options.config) : undefined,
        port,
        host: options.host,
        lifecycleUrl: options.lifecycleUrl ?? options.apiserverUrl,
        lifecycleToken: tokenFile ? () => readFileSync(tokenFile, "utf8").trim() : undefined,
        logger,
      });
      const stop = (signal: string) => {
        logger.info({ event: "stopping", signal }, "gateway stopping");
        // Requests in progress (long polls) get a moment; clients retry polls on a fresh connection.
        void gateway.close(10_000).then(() => process.exit(0));
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
}
