// A work queue in the style of client-go's: a key is never processed by two workers at once (a key
// added while it is being processed is re-queued when that finishes), duplicates collapse, failures
// are retried with per-key exponential backoff, and timers requeue with addAfter.
export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: WorkQueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    const waiter = this.waiters.shift();
    if (waiter) {
      this.queued.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds the key after a delay; an earlier pending timer for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Re-adds a failed key with exponential backoff. */
  addRateLimited(key: string): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.min(this.baseDelayMs * 2 ** (failures - 1), this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Next key to process (resolves undefined after shutdown). Call done(key) when finished. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}

/** What a queue's workers do with a key: reconcile it, and report a failure (retried with back-off). */
export interface KeyHandler {
  /** Reconciles the object of `key`; resolves to a delay after which to reconcile it again, if any. */
  reconcile(key: string): Promise<number | undefined>;
  /** Called after a failed reconcile; `retryInMs` is undefined when the queue is stopping. */
  failed(key: string, error: unknown, retryInMs: number | undefined): void;
}

/**
 * One worker: takes keys from `queue` until it shuts down and hands each to `handler`. Success
 * forgets the key's failures (and requeues it after the delay the handler asked for); a failure
 * re-adds it with per-key exponential back-off while `running()`. Every queue of the controller
 * (runtimes, catalogs) runs through this one loop.
 */
export async function processQueue(queue: WorkQueue, handler: KeyHandler, running: () => boolean): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    try {
      const requeueAfterMs = await handler.reconcile(key);
      queue.forget(key);
      if (requeueAfterMs !== undefined && running()) queue.addAfter(key, requeueAfterMs);
    } catch (error) {
      handler.failed(key, error, running() ? queue.addRateLimited(key) : undefined);
    } finally {
      queue.done(key);
    }
  }
}
