// InFlightQueries against a reference model, driven by seeded random polls, ends, sweeps and clock
// steps: a poll moves its query to the end of the map at most once per reorderEveryMs, and the
// sweep's early stop and eviction for space must still honour the model.
import { expect } from "chai";
import { InFlightQueries } from "../../gateway/sticky.ts";
import { createRng, type Rng } from "../support/rng.ts";

interface Modelled {
  runtime: string;
  backend: string;
  lastPollMs: number;
}

const allIds = Array.from({ length: 12 }, (_, index) => `q${index}`);
const runtimes = ["ns/a", "ns/b", "ns/c"];
const backends = ["http://a", "http://b"];
/**
 * Fixed seeds, so a run is reproducible; each is one random sequence of operations. 1190 (found
 * among 2,000) hits the sweep's early stop at its edge: it fails when the walk stops at a query
 * idle 2 ms longer than `idleMs - reorderEveryMs`.
 */
const seeds = [...Array.from({ length: 60 }, (_, index) => 1000 + index), 1190];
const operationsPerSeed = 1500;

function countsOf(model: Map<string, Modelled>, field: "runtime" | "backend"): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const query of model.values()) counts[query[field]] = (counts[query[field]] ?? 0) + 1;
  return counts;
}

function sameCounts(actual: Record<string, number>, expected: Record<string, number>): boolean {
  const keys = Object.keys(expected);
  return Object.keys(actual).length === keys.length && keys.every((key) => actual[key] === expected[key]);
}

function clockStep(rng: Rng, idleMs: number, reorderEveryMs: number): number {
  const steps = [
    0,
    0,
    1,
    Math.max(0, reorderEveryMs + rng.int(-1, 1)),
    rng.int(1, reorderEveryMs + 1),
    rng.int(1, idleMs),
    Math.max(0, idleMs - reorderEveryMs + rng.int(-2, 2)),
    Math.max(0, idleMs + rng.int(-2, 2)),
    rng.int(0, 3 * idleMs),
  ];
  return rng.pick(steps);
}

/** Runs one seeded sequence; `backwards` lets the clock step back too (then only safety and counts are checked). */
function drive(seed: number, backwards: boolean): void {
  const rng = createRng(seed);
  // Mostly the schema's smallest idleMs (reorderEveryMs 10), where the clock steps hit the edges most often.
  const idleMs = rng.pick([5, 100, 100, 100, 101, 1000, 10_000, 120_000]);
  // Few ids: the same queries meet again and again at the edges; many: eviction among more.
  const ids = allIds.slice(0, rng.pick([2, 3, 4, 6, 12]));
  const maxQueries = rng.pick([1, 2, 3, 5, 8, 50]);
  const queries = new InFlightQueries(maxQueries, idleMs);
  // The interval InFlightQueries derives from idleMs: the clock steps aim at its edges.
  const { reorderEveryMs } = queries;
  const model = new Map<string, Modelled>();
  let nowMs = rng.int(0, 10_000);
  // Checked by hand, building the message only on a failure: expect() per step costs seconds here.
  const check = (ok: boolean, step: number, what: () => string) => {
    if (!ok) expect.fail(`seed ${seed}, idleMs ${idleMs}, maxQueries ${maxQueries}, step ${step} at ${nowMs} ms: ${what()}`);
  };

  for (let step = 0; step < operationsPerSeed; step++) {
    if (backwards && rng.chance(0.1)) nowMs = Math.max(0, nowMs - rng.int(1, 2 * idleMs));
    else nowMs += clockStep(rng, idleMs, reorderEveryMs);
    const id = rng.pick(ids);
    const roll = rng.next();
    if (roll < 0.55) {
      // A poll answered with a nextUri (runtime and backend of a known query are its first ones).
      const known = model.get(id);
      queries.running(id, rng.pick(runtimes), rng.pick(backends), nowMs);
      if (known) {
        known.lastPollMs = nowMs;
      } else {
        const added = queries.get(id)!;
        model.set(id, { runtime: added.runtime, backend: added.backend, lastPollMs: nowMs });
        const evicted = [...model.keys()].filter((other) => queries.get(other) === undefined);
        check(evicted.length === (model.size > maxQueries ? 1 : 0), step, () => `evicted [${evicted.join(",")}] of ${model.size}`);
        for (const gone of evicted) {
          const goneMs = model.get(gone)!.lastPollMs;
          model.delete(gone);
          if (backwards) continue;
          // Least recently polled, to within reorderEveryMs.
          const slackMs = Math.max(0, reorderEveryMs - 1);
          for (const [other, kept] of model) {
            check(
              goneMs <= kept.lastPollMs + slackMs,
              step,
              () => `evicted ${gone} polled at ${goneMs}, kept ${other} polled at ${kept.lastPollMs}`,
            );
          }
        }
      }
    } else if (roll < 0.75) {
      queries.finished(id);
      model.delete(id);
    } else {
      queries.sweep(nowMs);
      for (const [other, query] of model) {
        const idleForMs = nowMs - query.lastPollMs;
        const tracked = queries.get(other);
        // Never ends a query polled within idleMs; without clock steps back, ends every idle one.
        if (idleForMs <= idleMs) check(tracked !== undefined, step, () => `${other} idle ${idleForMs} ms ended`);
        else if (!backwards) check(tracked === undefined, step, () => `${other} idle ${idleForMs} ms kept`);
        if (!tracked) model.delete(other);
      }
    }
    // Whatever happened: the same queries, last polls and counts as the model.
    check(queries.size === model.size, step, () => `size ${queries.size}, model ${model.size}`);
    for (const [other, query] of model) {
      const lastSeenMs = queries.get(other)?.lastSeenMs;
      check(lastSeenMs === query.lastPollMs, step, () => `${other} last poll ${lastSeenMs}, model ${query.lastPollMs}`);
    }
    for (const [field, counts] of [
      ["runtime", queries.perRuntime],
      ["backend", queries.perBackend],
    ] as const) {
      const expected = countsOf(model, field);
      const actual = Object.fromEntries(counts);
      check(sameCounts(actual, expected), step, () => `per ${field} ${JSON.stringify(actual)}, model ${JSON.stringify(expected)}`);
    }
  }
}

describe("gateway in-flight queries against a reference model", () => {
  it("ends every idle query at the next sweep, keeps the active ones, evicts the least recently polled (to within reorderEveryMs) and counts right", () => {
    for (const seed of seeds) drive(seed, false);
  });
  it("with the clock also stepping back: never ends a query polled within idleMs, and the counts stay right", () => {
    for (const seed of seeds) drive(seed, true);
  });
});
