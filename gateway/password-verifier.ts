// bcrypt checks on a small pool of worker threads with a bounded queue. bcrypt is meant to be slow
// (~100 ms at cost 10); on the request loop every check stalls every other request, /healthz
// included. Here a check waits for a free worker, and when `maxPending` checks are already queued
// or running the next is refused at once ("busy") instead of growing a queue without end.
import { Worker } from "node:worker_threads";
import type { BcryptAnswer, BcryptJob } from "./bcrypt-worker.ts";

export type VerifyOutcome = "match" | "mismatch" | "busy";

interface Job extends BcryptJob {
  settle(outcome: VerifyOutcome): void;
}

interface PoolWorker {
  worker: Worker;
  job?: Job;
}

const workerScript = new URL("./bcrypt-worker.ts", import.meta.url);

export class PasswordVerifier {
  readonly maxPending: number;
  private readonly size: number;
  private readonly workers: PoolWorker[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private pendingCount = 0;
  private closed = false;
  /** bcrypt checks run so far (what a test can count instead of timing them). */
  checks = 0;

  constructor(workers: number, maxPending: number) {
    this.size = workers;
    this.maxPending = maxPending;
  }

  /** Checks queued or running. */
  get pending(): number {
    return this.pendingCount;
  }

  verify(password: string, hash: string): Promise<VerifyOutcome> {
    if (this.closed) return Promise.resolve("busy");
    if (this.pendingCount >= this.maxPending) return Promise.resolve("busy");
    this.pendingCount += 1;
    return new Promise<VerifyOutcome>((resolve) => {
      this.queue.push({
        id: this.nextId++,
        password,
        hash,
        settle: (outcome) => {
          this.pendingCount -= 1;
          resolve(outcome);
        },
      });
      this.dispatch();
    });
  }

  /** Stops the workers; queued checks are answered "busy". */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.settle("busy");
    await Promise.all(this.workers.splice(0).map(({ worker }) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let idle = this.workers.find((candidate) => !candidate.job);
      if (!idle && this.workers.length < this.size) idle = this.spawn();
      if (!idle) return;
      const job = this.queue.shift()!;
      idle.job = job;
      this.checks += 1;
      idle.worker.postMessage({ id: job.id, password: job.password, hash: job.hash } satisfies BcryptJob);
    }
  }

  private spawn(): PoolWorker {
    const entry: PoolWorker = { worker: new Worker(workerScript) };
    entry.worker.unref(); // an idle pool must not keep the process alive
    entry.worker.on("message", (answer: BcryptAnswer) => {
      const job = entry.job;
      if (!job || job.id !== answer.id) return;
      entry.job = undefined;
      job.settle(answer.match ? "match" : "mismatch");
      this.dispatch();
    });
    const retire = () => {
      // A crashed worker: its check fails closed ("busy", not a login), a new worker takes the queue.
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      const job = entry.job;
      entry.job = undefined;
      job?.settle("busy");
      if (!this.closed) this.dispatch();
    };
    entry.worker.on("error", retire);
    entry.worker.on("exit", retire);
    this.workers.push(entry);
    return entry;
  }
}
