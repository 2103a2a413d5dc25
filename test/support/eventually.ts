// The one polling helper of the test suite: waits for a condition that becomes true by itself (a watch
// delivers, a process comes up, a controller converges), bounded in time, and fails naming what it waited
// for and what it saw last. Not a timing assertion: the timeout only bounds a test that would otherwise hang.

export interface EventuallyOptions {
  /** How long to keep polling (default 15 s). */
  timeoutMs?: number;
  /** Pause between polls (default 25 ms). */
  intervalMs?: number;
  /** At the deadline, what to print as the last state seen (else the probe's last error, if any). */
  describe?: () => unknown;
  /** Checked before each poll: a message stops the wait at once (e.g. the process under test exited). */
  abortIf?: () => string | undefined;
}

/**
 * Polls `probe` until it returns a truthy value and returns that value. A probe that throws counts as
 * "not yet" (a server still starting refuses connections); its last error is reported at the deadline.
 * `options` may be just the timeout in ms.
 */
export async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  options: number | EventuallyOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 15_000, intervalMs = 25, describe, abortIf } = typeof options === "number" ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const abort = abortIf?.();
    if (abort) throw new Error(`gave up waiting for ${what}: ${abort}`);
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = describe ? await describe() : undefined;
      const detail = describe
        ? ` (last seen: ${typeof seen === "string" ? seen : JSON.stringify(seen)})`
        : lastError
          ? ` (last error: ${(lastError as Error)?.message ?? String(lastError)})`
          : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
