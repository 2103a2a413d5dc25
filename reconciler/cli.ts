// `xtrinode operator` (the in-cluster controller) and `xtrinode apply` (one reconcile pass).
import type { Command } from "commander";
import { hostname } from "node:os";
import { loadKubeConfig } from "../lib/kube-config.ts";
import { createLogger } from "../lib/logger.ts";
import { defaultGatewayNamespace, operatorNamespace } from "./constants.ts";
import { parseDurationMs } from "./duration.ts";
import { createClusterClient } from "./kube-client.ts";
import { defaultLifecycleTimers } from "./lifecycle.ts";
import { createReconcileContext, reconcileAllOnce, startOperator } from "./operator.ts";
import { configMapPolicySource, filePolicySource, type PolicySource } from "./policy.ts";
import type { ClusterClient } from "./kube-client.ts";

interface OperatorFlags {
  kubeconfig?: string;
  namespaceGateway: string;
  policy?: string;
  metricsPort: string;
  metricsHost: string;
  leaderElectionNamespace: string;
  leaderElection: boolean;
  identity?: string;
  leaseDuration: string;
  retryPeriod: string;
  resyncPeriod: string;
  drainPeriod: string;
  workers: string;
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
    .option("--metrics-port <port>", "port of /metrics and /healthz (0: any free port)", "9090")
    .option("--metrics-host <address>", "address /metrics and /healthz listen on", "0.0.0.0")
    .option("--leader-election-namespace <namespace>", "namespace of the leader Lease", operatorNamespace)
    .option("--no-leader-election", "run without a Lease (a single replica only)")
    .option("--identity <id>", "leader election identity (default: hostname-pid)")
    .option("--lease-duration <duration>", "leader lease duration", "15s")
    .option("--retry-period <duration>", "how often to acquire or renew the lease", "2s")
    .option("--resync-period <duration>", "periodic re-reconcile of every runtime", "5m")
    .option("--drain-period <duration>", "quiet time after the last gateway activity before a suspending runtime stops draining", "30s")
    .option("--workers <n>", "concurrent reconciles (one per runtime at a time)", "4")
    .action(async (flags: OperatorFlags) => {
      const log = createLogger("operator");
      const kubeConfig = loadKubeConfig(flags.kubeconfig);
      const identity = flags.identity ?? `${hostname()}-${process.pid}`;
      const operator = await startOperator({
        kubeConfig,
        gatewayNamespace: flags.namespaceGateway,
        policy: policySource(createClusterClient(kubeConfig), flags.policy),
        log,
        metricsPort: Number(flags.metricsPort),
        metricsHost: flags.metricsHost,
        leaderElection: flags.leaderElection
          ? { namespace: flags.leaderElectionNamespace, identity, leaseDurationMs: parseDurationMs(flags.leaseDuration), retryPeriodMs: parseDurationMs(flags.retryPeriod) }
          : false,
        resyncPeriodMs: parseDurationMs(flags.resyncPeriod),
        workers: Number(flags.workers),
        timers: { ...defaultLifecycleTimers, drainPeriodMs: parseDurationMs(flags.drainPeriod) },
      });
      console.log(JSON.stringify({ event: "ready", component: "operator", identity, metricsPort: operator.healthPort }));
      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once("SIGTERM", shutdown);
        process.once("SIGINT", shutdown);
      });
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
      const client = createClusterClient(loadKubeConfig(flags.kubeconfig));
      const policy = policySource(client, flags.policy);
      await policy.reload();
      const result = await reconcileAllOnce(createReconcileContext(client, { gatewayNamespace: flags.namespaceGateway, policy, log }));
      console.log(JSON.stringify({ event: "applied", ...result }));
      process.exitCode = result.errors ? 1 : 0;
    });
}
