// The tree keeps one look: every source file is as Prettier (the pinned devDependency, .prettierrc.json,
// .prettierignore) prints it. Fix a failure with `npm run format`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { expect } from "chai";

const root = fileURLToPath(new URL("..", import.meta.url));
const prettierCli = createRequire(import.meta.url).resolve("prettier/bin/prettier.cjs");

describe("source format", () => {
  it("every TypeScript, JavaScript and CSS source is formatted by Prettier (run `npm run format` to fix)", function () {
    this.timeout(120_000);
    // The files Git tracks (a glob would walk node_modules); .prettierignore still applies to each.
    const tracked = spawnSync("git", ["ls-files", "-z", "--", "*.ts", "*.js", "*.cjs", "*.mjs", "*.css"], { cwd: root, encoding: "utf8" });
    expect(tracked.status, `git ls-files failed: ${tracked.stderr}`).to.equal(0);
    const files = tracked.stdout.split("\0").filter((file) => file.length > 0);
    expect(files.length).to.be.greaterThan(100);
    // --list-different prints each file whose formatting differs and exits 1; exit 2 is Prettier failing.
    const run = spawnSync(process.execPath, [prettierCli, "--list-different", ...files], { cwd: root, encoding: "utf8" });
    expect(run.status, `prettier failed: ${run.stderr}`).to.be.oneOf([0, 1]);
    const unformatted = run.stdout.split("\n").filter((line) => line.length > 0);
    expect(unformatted, `not formatted (run \`npm run format\`): ${unformatted.join(", ")}`).to.deep.equal([]);
  });
});
