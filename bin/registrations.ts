// Which module registers which top-level xtrinode commands. bin/xtrinode.ts loads only the module
// of the command asked for, so e.g. a gateway process holds none of the operator's or renderer's
// code (faster start, a smaller heap, shorter GC pauses); help and unknown commands load them all.
export interface CommandRegistration {
  /** Module path relative to this file. */
  module: string;
  /** Its exported `(program: Command) => void`. */
  register: string;
  /** Top-level commands it registers (a test checks this list against what it really registers). */
  commands: string[];
}

export const registrations: CommandRegistration[] = [
  { module: "../renderer/cli.ts", register: "registerRenderCommands", commands: ["render", "values", "validate", "crds"] },
  { module: "../apiserver/cli.ts", register: "registerApiServerCommands", commands: ["apiserver"] },
  { module: "../reconciler/cli.ts", register: "registerOperatorCommands", commands: ["operator", "apply"] },
  { module: "../gateway/cli.ts", register: "registerGatewayCommands", commands: ["gateway"] },
  { module: "../reconciler/gitops/cli.ts", register: "registerGitOpsCommands", commands: ["gitops", "diff"] },
  { module: "../status/cli.ts", register: "registerStatusCommands", commands: ["status"] },
];

/** The registrations needed for `argv` (process.argv): the asked command's, else all of them. */
export function registrationsFor(argv: string[]): CommandRegistration[] {
  const asked = argv[2];
  const owners = registrations.filter((registration) => registration.commands.includes(asked));
  return owners.length > 0 ? owners : registrations;
}

/**
 * The error for an unknown command in `argv` (process.argv), or undefined: the first argument that
 * is not an option must name a registered command (or `help <command>` must).
 */
export function unknownCommand(argv: string[], commands: ReadonlyArray<{ name(): string; aliases(): string[] }>): string | undefined {
  const known = commands.flatMap((command) => [command.name(), ...command.aliases()]);
  const asked = argv[2] === "help" ? argv[3] : argv[2];
  if (asked === undefined || asked.startsWith("-") || asked === "help" || known.includes(asked)) return undefined;
  const names = commands.map((command) => command.name()).filter((name) => name !== "help");
  return `error: unknown command '${asked}'. Known commands: ${names.join(", ")} (xtrinode --help describes them).`;
}
