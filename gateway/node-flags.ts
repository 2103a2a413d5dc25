// V8 heap settings of every gateway process (issue 18: RSS ≤ 200 MB however many queries pass, at
// the CPU per request of V8's defaults). Under load V8's defaults let a Node process's old generation
// grow to up to 4× what survived the last full GC. The gateway's live heap is ~20-30 MiB after
// 1,000,000 queries (its per-query maps are bounded), yet its heap reached ~160-210 MiB and its RSS
// 280-377 MiB with the defaults. Measured side by side (bench/RESULTS.md "gateway process memory"
// and "V8 heap flags"): `--heap-growing-percent=50` alone leaves the RSS at ~265 MiB; a small young
// generation as well (`--max-semi-space-size=2`, shipped first) holds it at ~140-185 MiB but costs
// 1.1-1.2× the CPU per request (more scavenges); a 16 MiB semi-space with it held the RSS at ~166 MiB
// but its frequent full collections cost V8's worker threads ~4 µs per follow-up (1.14-1.19× the
// minimal proxy's CPU); letting the old generation grow to 2× instead of 1.5× its live data holds the
// RSS under 200 MB too (bench/RESULTS.md, "Session 3") at 1.05-1.12×. Setting them from inside a running process has no effect
// (v8.setFlagsFromString, measured), so `xtrinode gateway` restarts itself with them at start-up
// (same process id, process.execve) unless they are on its command line already; a flag given there
// or in NODE_OPTIONS wins (`--max-semi-space-size=0 --heap-growing-percent=0` restores V8's defaults).
// Workers of `--workers N` inherit the primary's flags (node:cluster forks with process.execArgv).

/**
 * - `--max-semi-space-size=16`: young generation at most 2 × 16 MiB (half of V8's top size here;
 *   smaller ones cost CPU in scavenges).
 * - `--heap-growing-percent=100`: the old generation may grow to 2× the live data before the next
 *   full GC (V8 picks 1.1-4× by GC speed; under load it picks the top; 1.5× cost CPU in marking).
 */
export const gatewayNodeFlags: readonly string[] = ["--max-semi-space-size=16", "--heap-growing-percent=100"];

/** The name of a `--flag=value` (V8 also accepts underscores: `--max_semi_space_size`). */
function flagName(flag: string): string {
  return flag.split("=")[0].replaceAll("_", "-");
}

/** Of `gatewayNodeFlags`, those not already given (by name) in `execArgv` or NODE_OPTIONS (`nodeOptions`). */
export function missingGatewayNodeFlags(execArgv: readonly string[], nodeOptions = ""): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(flagName));
  return gatewayNodeFlags.filter((flag) => !given.has(flagName(flag)));
}

/**
 * Replaces this process by the same command with the missing gateway flags before the others
 * (process.execve: same pid, same open files, so a supervisor or container sees no change). Does
 * nothing when none is missing, or where process.execve is not available (Windows) or fails.
 */
export function restartWithGatewayNodeFlags(): void {
  const missing = missingGatewayNodeFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length === 0 || typeof process.execve !== "function") return;
  try {
    process.execve(process.execPath, [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)], process.env);
  } catch (error) {
    // Serving with V8's defaults (more memory, same behaviour) beats not serving.
    process.stderr.write(
      `xtrinode gateway: could not restart with ${missing.join(" ")} (${(error as Error).message}); running without them\n`,
    );
  }
}
