#!/usr/bin/env node
// The xtrinode CLI. Each area registers its own subcommands (bin/registrations.ts); this file only
// wires up the ones needed. Runs on Node >= 24 (TypeScript type stripping); npm scripts and npx use the pinned Node 24.
import { Command } from "commander";
import { exitWithParentIfAsked } from "../lib/exit-with-parent.ts";
import { restartWithGatewayNodeFlags } from "../gateway/node-flags.ts";
import { registrationsFor, unknownCommand } from "./registrations.ts";

// The gateway's V8 heap settings take effect only from process start (gateway/node-flags.ts).
if (process.argv[2] === "gateway") restartWithGatewayNodeFlags();

exitWithParentIfAsked();

const program = new Command("xtrinode")
  .description("Run many Trino runtimes on Kubernetes behind one Trino-facing gateway.")
  .version("0.1.0")
  .showHelpAfterError();

for (const { module: modulePath, register } of registrationsFor(process.argv)) {
  const module = (await import(new URL(modulePath, import.meta.url).href)) as Record<string, (program: Command) => void>;
  module[register](program);
}

// commander lets `<unknown> --help` print the top-level help and exit 0, as if the command existed:
// refuse any unknown command first, naming the known ones.
const unknown = unknownCommand(process.argv, program.commands);
if (unknown) {
  process.stderr.write(`${unknown}\n`);
  process.exit(1);
}

await program.parseAsync(process.argv);
