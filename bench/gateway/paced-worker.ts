// The fixed-rate phase of bench/gateway, on a worker thread (its own heap and event loop, so garbage
// left by the autocannon runs on the main thread does not pause it). Targets take turns in short
// slices, round after round, in a rotating order: a stall of this shared VM (CPU steal, another
// process's burst) lands on every target alike instead of on whichever ran at that moment.
// Latencies are pooled per target over all its slices.
import { parentPort } from "node:worker_threads";
import { pacedAgent, pacedFlowLoad } from "./paced-load.ts";

export interface PacedJob {
  targets: Array<{ name: string; url: string }>;
  rounds: number;
  sliceSeconds: number;
  rate: number;
}

export interface PacedTargetResult {
  name: string;
  /** All 2xx latencies (ms) of the target's slices, ascending. */
  latencies: Float64Array;
  failed: number;
  sentRate: number;
  /** The p99 of each 1-second slice, in slice order. */
  sliceP99s: number[];
}

async function run(job: PacedJob): Promise<PacedTargetResult[]> {
  const pooled = job.targets.map(() => ({ latencies: [] as Float64Array[], failed: 0, sent: 0, sliceP99s: [] as number[] }));
  const agents = job.targets.map(() => pacedAgent());
  for (let round = 0; round < job.rounds; round++) {
    for (let turn = 0; turn < job.targets.length; turn++) {
      const index = (round + turn) % job.targets.length;
      const result = await pacedFlowLoad(job.targets[index].url, { rate: job.rate, seconds: job.sliceSeconds, agent: agents[index] });
      pooled[index].latencies.push(result.latencies);
      pooled[index].sliceP99s.push(result.p99);
      pooled[index].failed += result.failed;
      pooled[index].sent += result.sentRate * job.sliceSeconds;
    }
  }
  for (const agent of agents) agent.destroy();
  return job.targets.map((target, index) => {
    const all = new Float64Array(pooled[index].latencies.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of pooled[index].latencies) {
      all.set(part, offset);
      offset += part.length;
    }
    return {
      name: target.name,
      latencies: all.sort(),
      failed: pooled[index].failed,
      sentRate: pooled[index].sent / (job.rounds * job.sliceSeconds),
      sliceP99s: pooled[index].sliceP99s,
    };
  });
}

parentPort?.once("message", (job: PacedJob) => {
  void run(job).then((results) => parentPort!.postMessage(results));
});
