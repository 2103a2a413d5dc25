// docs/DEPLOY.md's configuration reference keeps up with the code: every flag of every command the
// install runs (and of `apply` and `gitops sync`) is documented.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { cliFlags } from "./cli-help.ts";
import { defaultInstallDir, objectsOf, repoRoot } from "./layout.ts";

describe("docs/DEPLOY.md", () => {
  it("documents every flag of the commands the install runs, of apply and of gitops sync", async function () {
    this.timeout(60_000);
    const doc = readFileSync(path.join(repoRoot, "docs/DEPLOY.md"), "utf8");
    const commands = objectsOf(defaultInstallDir)
      .filter((o) => o.kind === "Deployment")
      .map((d) => d.spec.template.spec.containers[0].args[0] as string);
    const sectionOf = (command: string) => new RegExp(`### \`xtrinode ${command}\`([\\s\\S]*?)(?=\\n### |$)`).exec(doc)?.[1];
    const undocumented: string[] = [];
    for (const command of [...commands, "gitops sync"]) {
      const section = sectionOf(command);
      expect(section, `docs/DEPLOY.md needs a section "### \`xtrinode ${command}\`"`).to.be.a("string");
      for (const flag of await cliFlags(command)) if (!section!.includes(`\`${flag}`)) undocumented.push(`${command} ${flag}`);
    }
    // apply shares the operator's flags and is described in the operator's section.
    for (const flag of await cliFlags("apply")) if (!sectionOf("operator")!.includes(`${flag}`)) undocumented.push(`apply ${flag}`);
    expect(undocumented).to.deep.equal([]);
  });
});
