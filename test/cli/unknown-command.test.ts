// An unknown command, with or without --help, exits non-zero naming the known commands (commander
// alone printed the top-level help and exited 0 for `<unknown> --help`).
import { expect } from "chai";
import { registrations } from "../../bin/registrations.ts";
import { killAllChildren, runXtrinode } from "../support/process.ts";

const knownCommands = registrations.flatMap((registration) => registration.commands);

describe("xtrinode with an unknown command", function () {
  this.timeout(60_000);
  after(() => killAllChildren());

  for (const args of [
    ["no-such-command", "--help"],
    ["no-such-command", "-n", "team-a"],
    ["help", "no-such-command"],
  ]) {
    it(`xtrinode ${args.join(" ")}: exit 1, names the command and every known one`, async () => {
      const { code, stdout, stderr } = await runXtrinode(args);
      expect(code).to.equal(1);
      expect(stdout).to.equal("");
      expect(stderr).to.contain("unknown command 'no-such-command'");
      for (const name of knownCommands) expect(stderr).to.contain(name);
    });
  }

  it("known commands and plain --help still work (exit 0)", async () => {
    expect((await runXtrinode(["--help"])).code).to.equal(0);
    const help = await runXtrinode(["help", "status"]);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain("Usage: xtrinode status");
  });
});
