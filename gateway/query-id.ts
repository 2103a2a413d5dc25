// Trino query ids (the request paths that carry them: request-target.ts).
// A query id is `YYYYMMDD_hhmmss_NNNNN_ccccc`; the last part is a random id fixed per coordinator
// process, so any gateway replica can tell which coordinator owns a query from the id alone.

/** A Trino query id as a regular-expression source (the coordinator-id part is group 1). */
export const queryIdSource = "\\d{8}_\\d{6}_\\d{5}_([a-z0-9]{5})";
const queryIdPattern = new RegExp(`^${queryIdSource}$`);

/**
 * Coordinator-id part reserved for statements held by the gateway during auto-resume.
 * Trino draws coordinator ids from a base-32 alphabet without 0 and 1, so this never collides.
 */
export const heldCoordinatorId = "gw000";
/**
 * With `--workers N` each worker process holds statements under its own coordinator id, `gw0` +
 * its index in two digits (worker 0 and a single process: gw000), so any worker can tell which one
 * holds a statement from its id (workers.ts forwards the follow-up there).
 */
const heldCoordinatorIdPattern = /^gw0(\d\d)$/;
/** Most worker processes one gateway runs (two digits in the held coordinator id). */
export const maxGatewayWorkers = 64;

/** The coordinator id of statements held by worker `index` (0 for a single process). */
export function heldCoordinatorIdOf(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= maxGatewayWorkers)
    throw new Error(`gateway worker index ${index} is not in 0..${maxGatewayWorkers - 1}`);
  return `gw0${pad(index, 2)}`;
}

/** The coordinator-id part of a Trino query id, or undefined when it is not one. */
export function coordinatorIdOf(queryId: string): string | undefined {
  return queryIdPattern.exec(queryId)?.[1];
}

export function isHeldQueryId(queryId: string): boolean {
  return heldWorkerOf(queryId) !== undefined;
}

/** The index of the worker process holding a held statement's id; undefined when it is no held id. */
export function heldWorkerOf(queryId: string): number | undefined {
  const match = heldCoordinatorIdPattern.exec(coordinatorIdOf(queryId) ?? "");
  return match ? Number(match[1]) : undefined;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/** Generates query ids in Trino's format for one coordinator id (a counter from `start` that wraps at 100000). */
export function createQueryIdGenerator(coordinatorId: string, now: () => Date = () => new Date(), start = 0): () => string {
  let counter = start;
  return () => {
    const date = now();
    counter = (counter + 1) % 100_000;
    const day = `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}`;
    const time = `${pad(date.getUTCHours(), 2)}${pad(date.getUTCMinutes(), 2)}${pad(date.getUTCSeconds(), 2)}`;
    return `${day}_${time}_${pad(counter, 5)}_${coordinatorId}`;
  };
}
