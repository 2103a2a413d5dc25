// `xtrinode operator` (the in-cluster controller) and `xtrinode apply` (one reconcile pass).
import { InvalidArgumentError, Option, type Command } from "commander";
import type { KubeConfig } from "@kubernetes/client-node";
import { hostname } from "node:os";
import { loadKubeConfig } from "../lib/kube-config.ts";
import { createLogger } from "../lib/logger.ts";
import { defaultGatewayNamespace } from "../schemas/api/index.ts";
import { operatorNamespace } from "./constants.ts";
import { parseDurationMs } from "./duration.ts";
import { createClusterClient } from "./kube-client.ts";
import { defaultLifecycleTimers } from "./lifecycle-decisions.ts";
import { createReconcileContext, reconcileAllOnce, startOperator } from "./operator.ts";
import { configMapPolicySource, filePolicySource, type PolicySource } from "./policy.ts";
import type { ClusterClient } from "./kube-client.ts";

interface OperatorFlags {
  kubeconfig?: string;
  namespaceGateway: string;
  policy?: string;
  metricsPort: number;
  metricsHost: string;
  leaderElectionNamespace: string;
  leaderElection: boolean;
  identity?: string;
  leaseDuration: number;
  retryPeriod: number;
  resyncPeriod: number;
  drainPeriod: number;
  workers: number;
}

// Flag values are checked when parsed (commander: `error: option '--x <v>' argument 'bad' is invalid. …`, exit 1).
function positiveInteger(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(number) || number <= 0)
      throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}"`);
    return number;
  };
}

function port(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!/^[0-9]+$/.test(value) || number > 65535) throw new InvalidArgumentError(`${flag} must be 0..65535, got "${value}"`);
    return number;
  };
}

/** A positive Go duration ("30s", "15m", "1h30m", "250ms") → milliseconds. */
function duration(flag: string) {
  return (value: string): number => {
    let ms: number;
    try {
      ms = parseDurationMs(value);
    } catch {
      throw new InvalidArgumentError(`${flag} must be a duration with a unit (ms, s, m, h) such as 30s, 15m or 1h30m, got "${value}"`);
    }
    if (ms <= 0) throw new InvalidArgumentError(`${flag} must be longer than 0, got "${value}"`);
    return ms;
  };
}

/** An option whose value goes through `parse`; the default is given as typed on the command line. */
function parsedOption(flags: string, description: string, parse: (value: string) => number, defaultText: string): Option {
  return new Option(flags, description).argParser(parse).default(parse(defaultText), defaultText);
}

/**
 * The kubeconfig, or an `error: --kubeconfig F: reason` line and exit 2 (as `xtrinode apiserver`):
 * a missing or unreadable file, bad YAML, or no current cluster — never a stack trace.
 */
function loadKubeConfigOrExit(file: string | undefined): KubeConfig | null {
  const label = file ? `--kubeconfig ${file}` : "kubeconfig (in-cluster, $KUBECONFIG or ~/.kube/config)";
  let reason: string;
  try {
    const kubeConfig = loadKubeConfig(file);
    if (kubeConfig.getCurrentCluster()) return kubeConfig;
    reason = kubeConfig.getCurrentContext()
      ? `current-context "${kubeConfig.getCurrentContext()}" leads to no cluster (no such context, or its cluster is missing)`
      : "no current cluster: set current-context to a context with a cluster";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    reason = code === "ENOENT" ? "no such file" : code ? `cannot read it (${code})` : (error as Error).message;
  }
  process.stderr.write(`error: ${label}: ${reason}\n`);
  process.exitCode = 2;
  return null;
}

function policySource(client: ClusterClient, file: string | undefined): PolicySource {
  return file ? filePolicySource(file) : configMapPolicySource(client, operatorNamespace);
}

export function registerOperatorCommands(program: Command): void {
  program
    .command("operator")
    .description("Run the XTrinode operator: reconcile XTrinode and XTrinodeCatalog resources (leader-elected).")
    .option("--kubeconfig <file>", "kubeconfig file (default: in-cluster service account, else $KUBECONFIG)")
    .option("--namespace-gateway <namespace>", "namespace of the gateway routes ConfigMap", defaultGatewayNamespace)
    .option("--policy <file>", "XTrinodePolicy file (default: ConfigMap xtrinode-policy in xtrinode-system)")
    .addOption(parsedOption("--metrics-port <port>", "port of /metrics and /healthz (0: any free port)", port("--metrics-port"), "9090"))
    .option("--metrics-host <address>", "address /metrics and /healthz listen on", "0.0.0.0")
    .option("--leader-election-namespace <namespace>", "namespace of the leader Lease", operatorNamespace)
    .option("--no-leader-election", "run without a Lease (a single replica only)")
    .option("--identity <id>", "leader election identity (default: hostname-pid)")
    .addOption(
      parsedOption(
        "--lease-duration <duration>",
        "leader lease duration: after the leader dies without releasing the lease (kill -9, node loss) a standby takes over within it + 2 × --retry-period (it sees the last renewal up to one period late and retries once per period); a leader that stops releases it at once",
        duration("--lease-duration"),
        "15s",
      ),
    )
    .addOption(parsedOption("--retry-period <duration>", "how often to acquire or renew the lease", duration("--retry-period"), "2s"))
    .addOption(parsedOption("--resync-period <duration>", "periodic re-reconcile of every runtime", duration("--resync-period"), "5m"))
    .addOption(
      parsedOption(
        "--drain-period <duration>",
        "quiet time after the last gateway activity before a suspending runtime stops draining",
        duration("--drain-period"),
        "30s",
      ),
    )
    .addOption(parsedOption("--workers <n>", "concurrent reconciles (one per runtime at a time)", positiveInteger("--workers"), "4"))
    .action(async (flags: OperatorFlags) => {
      const log = createLogger("operator");
      const kubeConfig = loadKubeConfigOrExit(flags.kubeconfig);
      if (!kubeConfig) return;
      const identity = flags.identity ?? `${hostname()}-${process.pid}`;
      const operator = await startOperator({
        kubeConfig,
        gatewayNamespace: flags.namespaceGateway,
        policy: policySource(createClusterClient(kubeConfig), flags.policy),
        log,
        metricsPort: flags.metricsPort,
        metricsHost: flags.metricsHost,
        leaderElection: flags.leaderElection
          ? { namespace: flags.leaderElectionNamespace, identity, leaseDurationMs: flags.leaseDuration, retryPeriodMs: flags.retryPeriod }
          : false,
        resyncPeriodMs: flags.resyncPeriod,
        workers: flags.workers,
        timers: { ...defaultLifecycleTimers, drainPeriodMs: flags.drainPeriod },
      });
      // Listening for SIGTERM before the ready line: whoever reads it may stop the operator at once.
      const stopRequested = new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once("SIGTERM", shutdown);
        process.once("SIGINT", shutdown);
      });
      console.log(JSON.stringify({ event: "ready", component: "operator", identity, metricsPort: operator.healthPort }));
      await stopRequested;
      await operator.stop();
      log.info({ identity }, "operator stopped");
      process.exit(0);
    });

  program
    .command("apply")
    .description("Reconcile every XTrinode once against the cluster and exit (exit 1 if any runtime is in Error).")
    .option("--kubeconfig <file>", "kubeconfig file (default: in-cluster service account, else $KUBECONFIG)")
    .option("--namespace-gateway <namespace>", "namespace of the gateway routes ConfigMap", defaultGatewayNamespace)
    .option("--policy <file>", "XTrinodePolicy file (default: ConfigMap xtrinode-policy in xtrinode-system)")
    .action(async (flags: { kubeconfig?: string; namespaceGateway: string; policy?: string }) => {
      const log = createLogger("apply");
      const kubeConfig = loadKubeConfigOrExit(flags.kubeconfig);
      if (!kubeConfig) return;
      const client = createClusterClient(kubeConfig);
      const policy = policySource(client, flags.policy);
      await policy.reload();
      const result = await reconcileAllOnce(createReconcileContext(client, { gatewayNamespace: flags.namespaceGateway, policy, log }));
      console.log(JSON.stringify({ event: "applied", ...result }));
      process.exitCode = result.errors ? 1 : 0;
    });
}
