// `xtrinode apiserver`: runs the lifecycle API server until SIGTERM/SIGINT.
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { isDns1123Label } from "../schemas/api/index.ts";
import { defaultLeaseNamespace } from "./names.ts";
import { defaults, startApiServer } from "./start.ts";

function positiveInteger(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}"`);
    return number;
  };
}

function dns1123(flag: string) {
  return (value: string): string => {
    if (!isDns1123Label(value)) throw new InvalidArgumentError(`${flag} must be a namespace name (DNS-1123 label), got "${value}"`);
    return value;
  };
}

function booleanFlag(flag: string) {
  return (value: string): boolean => {
    if (value === "true") return true;
    if (value === "false") return false;
    throw new InvalidArgumentError(`${flag} must be true or false, got "${value}"`);
  };
}

function httpUrl(flag: string) {
  return (value: string): string => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InvalidArgumentError(
        `${flag} must be an http(s) URL such as http://xtrinode-gateway.xtrinode-gateway:8080, got "${value}"`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new InvalidArgumentError(`${flag} must be an http(s) URL, got "${value}"`);
    return value;
  };
}

function port(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65535) throw new InvalidArgumentError(`--port must be 0..65535, got "${value}"`);
  return number;
}

export function registerApiServerCommands(program: Command): void {
  program
    .command("apiserver")
    .description("Run the lifecycle API server (resume / suspend / activity / status, Lease-gated resume).")
    .option("--port <port>", "listen port (0 picks a free one)", port, defaults.port)
    .option("--host <host>", "listen address", defaults.host)
    .option("--kubeconfig <file>", "kubeconfig file (default: in-cluster, else $KUBECONFIG or ~/.kube/config)")
    .option(
      "--token-file <file>",
      'static bearer tokens, kube-apiserver --token-auth-file format: token,user,uid,"group1,group2" (default: Kubernetes TokenReview)',
    )
    .option("--authz-config <file>", "YAML allow-list of identities per action: resume, suspend, activity, read")
    .option(
      "--lease-duration-seconds <n>",
      "resume Lease duration",
      positiveInteger("--lease-duration-seconds"),
      defaults.leaseDurationSeconds,
    )
    .option(
      "--lease-namespace <namespace>",
      "namespace of the resume Leases (the API server needs Lease rights there only)",
      dns1123("--lease-namespace"),
      defaultLeaseNamespace,
    )
    .option(
      "--retry-after-seconds <n>",
      "Retry-After given to resume callers",
      positiveInteger("--retry-after-seconds"),
      defaults.retryAfterSeconds,
    )
    .option(
      "--activity-min-interval-seconds <n>",
      "at most one last-activity write per runtime per this many seconds",
      positiveInteger("--activity-min-interval-seconds"),
      defaults.activityMinIntervalSeconds,
    )
    .option("--kube-timeout-ms <n>", "timeout of each Kubernetes API request", positiveInteger("--kube-timeout-ms"), defaults.kubeTimeoutMs)
    .option("--identity <id>", "Lease holder identity (default: hostname_pid_random)")
    .option(
      "--console <true|false>",
      "serve the web console under /console/ (same tokens and authorisation as the API)",
      booleanFlag("--console"),
      true,
    )
    .option(
      "--gateway-url <url>",
      "the gateway's base URL; the console's gateway view reads its status (GET /xtrinode/v1/status) from there, server-side",
      httpUrl("--gateway-url"),
    )
    .option("--gateway-token-file <file>", "file holding the gateway's admin token (its admin.tokenFile), sent when reading its status")
    .action(async (options) => {
      let server;
      try {
        server = await startApiServer({
          port: options.port,
          host: options.host,
          kubeconfigPath: options.kubeconfig,
          tokenFile: options.tokenFile,
          authzConfigFile: options.authzConfig,
          leaseDurationSeconds: options.leaseDurationSeconds,
          leaseNamespace: options.leaseNamespace,
          retryAfterSeconds: options.retryAfterSeconds,
          activityMinIntervalSeconds: options.activityMinIntervalSeconds,
          kubeTimeoutMs: options.kubeTimeoutMs,
          identity: options.identity,
          defaultMetrics: true,
          console: options.console,
          gatewayUrl: options.gatewayUrl,
          gatewayTokenFile: options.gatewayTokenFile,
        });
      } catch (error) {
        process.stderr.write(`xtrinode apiserver: ${(error as Error).message}\n`);
        process.exit(2);
      }
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        server.close().then(() => process.exit(0));
      };
      // Before the ready line: whoever reads it may stop the server at once (else SIGTERM's default kills it).
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      process.stdout.write(
        `${JSON.stringify({ event: "listening", url: server.url, identity: server.identity, ...(options.console ? { console: `${server.url}/console/` } : {}) })}\n`,
      );
    });
}
