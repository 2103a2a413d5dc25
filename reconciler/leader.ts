// Leader election on a coordination.k8s.io/v1 Lease, judged like client-go: a lease held by someone
// else is expired when our own clock has not seen its record change for leaseDurationSeconds (the
// observed renew time, not the holder's clock), and we acquire or renew with an update guarded by
// resourceVersion, so of two candidates only one wins.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
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

/** What a candidate needs to judge a lease. */
export interface LeaseObservation {
  /** Serialized record (holder, renew time, transitions) last seen. */
  record: string;
  /** Our clock when that record was first seen. */
  observedAtMs: number;
}

/** Pure: may `identity` take the lease now? */
export function canAcquire(lease: V1Lease | undefined, identity: string, observation: LeaseObservation | undefined, nowMs: number, leaseDurationMs: number): boolean {
  const holder = lease?.spec?.holderIdentity;
  if (!lease || !holder || holder === identity) return true;
  if (!observation) return false; // first sight of someone else's lease: wait a full duration
  const durationMs = (lease.spec?.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
  return nowMs > observation.observedAtMs + durationMs;
}

export function leaseRecord(lease: V1Lease | undefined): string {
  const spec = lease?.spec ?? {};
  return JSON.stringify([spec.holderIdentity ?? "", String(spec.renewTime ?? ""), spec.leaseTransitions ?? 0]);
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
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: new V1MicroTime(nowMs), renewTime: new V1MicroTime(nowMs), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (error) {
        if (isConflict(error)) return false; // another candidate created it first
        throw error;
      }
    }
    const record = leaseRecord(lease);
    if (!this.observation || this.observation.record !== record) this.observation = { record, observedAtMs: nowMs };
    if (!canAcquire(lease, identity, this.observation, nowMs, leaseDurationMs)) return false;

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
      this.observation = { record: leaseRecord(lease), observedAtMs: nowMs };
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
