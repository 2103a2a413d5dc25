// Leader election on a coordination.k8s.io/v1 Lease, judged like client-go: a lease held by someone
// else is expired when our own clock has not seen its record change for leaseDurationSeconds (the
// observed renew time, not the holder's clock), and we acquire or renew with an update guarded by
// resourceVersion, so of two candidates only one wins.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { judgeLease, observeLease, type LeaseObservation } from "../lib/lease.ts";
import type { Logger } from "../lib/logger.ts";
import { isConflict, isNotFound, describeError } from "./kube-client.ts";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs?: number;
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log: Logger;
}

/**
 * Observes the live Lease (lib/lease.ts: a record not seen before is observed now, so someone else's
 * Lease met for the first time is waited out for a full duration) and says whether `identity` may
 * take or renew it: no Lease, our own, no holder, or a holder whose record outlived its duration.
 */
export function observeForAcquire(
  lease: V1Lease | undefined,
  identity: string,
  previous: LeaseObservation | undefined,
  nowMs: number,
  leaseDurationMs: number,
): { canAcquire: boolean; observation: LeaseObservation | undefined } {
  if (!lease) return { canAcquire: true, observation: previous };
  const spec = lease.spec ?? {};
  const record = {
    holderIdentity: spec.holderIdentity,
    leaseDurationSeconds: spec.leaseDurationSeconds,
    acquireTime: microTime(spec.acquireTime),
    renewTime: microTime(spec.renewTime),
    leaseTransitions: spec.leaseTransitions,
  };
  const observation = observeLease(record, previous, nowMs, leaseDurationMs / 1000);
  const judgement = judgeLease(observation, nowMs);
  return { canAcquire: judgement.kind === "acquirable" || judgement.holderIdentity === identity, observation };
}

function microTime(value: Date | string | undefined): string | undefined {
  return value === undefined ? undefined : value instanceof Date ? value.toISOString() : String(value);
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly options: LeaderElectionOptions;
  private observation: LeaseObservation | undefined;
  private leading = false;
  private lastRenewMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(kubeConfig: KubeConfig, options: LeaderElectionOptions) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.options = options;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    void this.loop();
  }

  /** Stops campaigning; a leader releases the lease so a standby can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading) {
      this.setLeading(false);
      const release = async () => {
        const lease = await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
        if (lease.spec?.holderIdentity === this.options.identity) {
          lease.spec.holderIdentity = undefined;
          lease.spec.leaseDurationSeconds = 1;
          await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: lease });
        }
      };
      // Best effort and bounded: an unreachable API server must not block shutdown (the lease expires anyway).
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.retryPeriodMs * 2)));
      try {
        await Promise.race([release(), timeout]);
      } catch (error) {
        this.options.log.debug({ error: describeError(error) }, "lease release failed");
      } finally {
        clearTimeout(timer);
      }
    }
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      const renewed = await this.tryAcquireOrRenew();
      // stop() may have run while the renewal was in flight: do not take leadership back.
      if (this.stopped) return;
      if (renewed) this.lastRenewMs = Date.now();
      if (renewed && !this.leading) this.setLeading(true);
    } catch (error) {
      this.options.log.warn({ error: describeError(error) }, "lease update failed");
    }
    // A leader that cannot renew within the renew deadline stops leading before others may take over.
    const renewDeadline = this.options.renewDeadlineMs ?? (this.options.leaseDurationMs * 2) / 3;
    if (this.leading && Date.now() - this.lastRenewMs > renewDeadline) this.setLeading(false);
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.loop(), this.options.retryPeriodMs);
      this.timer.unref?.();
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.options.log.info({ identity: this.options.identity, leading }, leading ? "became leader" : "stopped leading");
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  /** One round: returns true when we hold the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.options;
    const nowMs = Date.now();
    const durationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (!lease) {
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: new V1MicroTime(nowMs),
              renewTime: new V1MicroTime(nowMs),
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (error) {
        if (isConflict(error)) return false; // another candidate created it first
        throw error;
      }
    }
    const judged = observeForAcquire(lease, identity, this.observation, nowMs, leaseDurationMs);
    this.observation = judged.observation;
    if (!judged.canAcquire) return false;

    const spec = lease.spec ?? {};
    const takingOver = spec.holderIdentity !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: new V1MicroTime(nowMs),
      acquireTime: takingOver ? new V1MicroTime(nowMs) : spec.acquireTime,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver && spec.holderIdentity ? 1 : 0),
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      this.observation = observeForAcquire(lease, identity, undefined, nowMs, leaseDurationMs).observation;
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
