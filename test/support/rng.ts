// Seeded pseudo-random numbers for failure and fuzz tests: a failing run is replayed by setting
// XTRINODE_TEST_SEED to the seed the test logged.
export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
}

/** mulberry32: small, fast, good enough to spread test cases. */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (probability) => next() < probability,
  };
}

/** The seed of this run: XTRINODE_TEST_SEED when set (replay), else fresh; logged so a failure can be replayed. */
export function testSeed(label: string): number {
  const fromEnv = process.env.XTRINODE_TEST_SEED;
  const seed = fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
  process.stdout.write(`      [${label}] seed ${seed} (replay: XTRINODE_TEST_SEED=${seed})\n`);
  return seed;
}
