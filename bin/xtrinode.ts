#!/usr/bin/env node
// The xtrinode CLI. Each area registers its own subcommands; this file only wires them up.
// Runs on Node >= 24 (TypeScript type stripping); npm scripts and npx use the pinned Node 24.
import { Command } from "commander";

const program = new Command("xtrinode")
  .description("Run many Trino runtimes on Kubernetes behind one Trino-facing gateway.")
  .version("0.1.0")
  .showHelpAfterError();

const registrations: Array<[string, string]> = [
  // [module path relative to this file, exported register function]
  ["../renderer/cli.ts", "registerRenderCommands"],
  ["../apiserver/cli.ts", "registerApiServerCommands"],
  ["../reconciler/cli.ts", "registerOperatorCommands"],
  ["../gateway/cli.ts", "registerGatewayCommands"],
  ["../reconciler/gitops/cli.ts", "registerGitOpsCommands"],
];
for (const [modulePath, exportName] of registrations) {
  const module = (await import(new URL(modulePath, import.meta.url).href)) as Record<string, (program: Command) => void>;
  module[exportName](program);
}

await program.parseAsync(process.argv);
