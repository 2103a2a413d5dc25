// bin/xtrinode.ts loads only the module of the command asked for, so each registration's
// `commands` list must name exactly what its module registers.
import { expect } from "chai";
import { Command } from "commander";
import { registrations, registrationsFor } from "../../bin/registrations.ts";

describe("CLI command registrations", () => {
  for (const registration of registrations) {
    it(`${registration.module} registers exactly ${registration.commands.join(", ")}`, async () => {
      const module = (await import(new URL(registration.module, new URL("../../bin/", import.meta.url)).href)) as Record<
        string,
        (program: Command) => void
      >;
      const program = new Command("xtrinode");
      module[registration.register](program);
      expect(program.commands.map((command) => command.name()).sort()).to.deep.equal([...registration.commands].sort());
    });
  }

  it("loads only the asked command's module, and every module for help or an unknown command", () => {
    expect(registrationsFor(["node", "xtrinode", "gateway", "--port", "0"]).map((r) => r.module)).to.deep.equal(["../gateway/cli.ts"]);
    expect(registrationsFor(["node", "xtrinode", "gitops", "sync"]).map((r) => r.module)).to.deep.equal(["../reconciler/gitops/cli.ts"]);
    expect(registrationsFor(["node", "xtrinode", "--help"])).to.have.length(registrations.length);
    expect(registrationsFor(["node", "xtrinode", "no-such-command"])).to.have.length(registrations.length);
  });
});
