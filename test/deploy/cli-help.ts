// The flags each xtrinode command accepts, read from its own --help (one child process per command, cached).
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./layout.ts";

const run = promisify(execFile);
const cache = new Map<string, Promise<Set<string>>>();

async function readFlags(command: string): Promise<Set<string>> {
  const { stdout } = await run(process.execPath, [path.join(repoRoot, "bin/xtrinode.ts"), command, "--help"], { cwd: repoRoot, timeout: 20_000 });
  if (!stdout.includes(`Usage: xtrinode ${command} `)) throw new Error(`the CLI has no "${command}" command`);
  return new Set([...stdout.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]).filter((flag) => flag !== "--help"));
}

export function cliFlags(command: string): Promise<Set<string>> {
  let flags = cache.get(command);
  if (!flags) cache.set(command, (flags = readFlags(command)));
  return flags;
}
