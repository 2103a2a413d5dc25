// The flags each xtrinode command accepts, from the CLI's own definitions: the modules listed in
// bin/registrations.ts register their commands on a fresh commander program, in process.
import { Command } from "commander";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { registrations } from "../../bin/registrations.ts";
import { repoRoot } from "./layout.ts";

/** [module path relative to the repository, exported register function] of every command module. */
export function registeredModules(): Array<[string, string]> {
  return registrations.map(({ module, register }) => [path.posix.normalize(path.posix.join("bin", module)), register]);
}

let program: Promise<Command> | undefined;

async function buildProgram(): Promise<Command> {
  const root = new Command("xtrinode");
  for (const [file, exportName] of registeredModules()) {
    const module = (await import(pathToFileURL(path.join(repoRoot, file)).href)) as Record<string, (program: Command) => void>;
    module[exportName](root);
  }
  return root;
}

/** Flags of a command; nested commands by their path, e.g. "gitops sync". */
export async function cliFlags(command: string): Promise<Set<string>> {
  program ??= buildProgram();
  let found: Command | undefined = await program;
  for (const name of command.split(" ")) found = found?.commands.find((c) => c.name() === name);
  if (!found) throw new Error(`the CLI has no "${command}" command`);
  return new Set(found.options.map((option) => option.long).filter((flag): flag is string => flag !== undefined));
}
