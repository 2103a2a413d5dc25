// For components started by a parent that may die without stopping them (the local stack, `npm start`):
// with XTRINODE_EXIT_WITH_PARENT=1 the parent hands over a stdin pipe it never writes to. When the
// parent is gone, even SIGKILLed, the pipe ends, and the process stops itself the normal way (SIGTERM:
// requests in progress finish, leases are released) instead of lingering on its ports.
export function exitWithParentIfAsked(env: NodeJS.ProcessEnv = process.env): void {
  if (env.XTRINODE_EXIT_WITH_PARENT !== "1") return;
  process.stdin.once("end", () => process.kill(process.pid, "SIGTERM"));
  process.stdin.resume();
}
