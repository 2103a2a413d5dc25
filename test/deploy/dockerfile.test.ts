// The Dockerfile, read statically: no container engine runs on the development machines or in CI,
// so the image is never built here. What can be checked without building it is checked:
// stages, base image major, production-only dependencies, non-root user, entrypoint, that every
// COPY source exists and reaches the build context, and that everything the entrypoint loads at
// run time is copied into the image and needs no devDependency.
import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  execForm,
  inBuildContext,
  moduleClosure,
  parseCopy,
  parseDockerfile,
  parseDockerignore,
  runtimeImports,
  type Dockerfile,
} from "./dockerfile.ts";
import { registeredModules } from "./cli-help.ts";
import { defaultInstallDir, objectsOf, repoRoot } from "./layout.ts";

const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const packageJson = JSON.parse(read("package.json")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  bin: Record<string, string>;
};

describe("Dockerfile", () => {
  let dockerfile: Dockerfile;
  before(() => {
    dockerfile = parseDockerfile(read("Dockerfile"));
  });
  const final = () => dockerfile.stages[dockerfile.stages.length - 1];
  const instructions = (keyword: string, stage = final()) => stage.instructions.filter((i) => i.keyword === keyword);

  it("is multi-stage, every stage on the Node major the project pins", () => {
    const nodeMajor = packageJson.devDependencies.node.split(".")[0];
    expect(dockerfile.stages.length).to.be.at.least(2);
    for (const stage of dockerfile.stages) {
      expect(stage.name, `stage FROM ${stage.image} needs a name`).to.be.a("string");
      expect(stage.image, "base image").to.match(new RegExp(`^node:${nodeMajor}(-[a-z0-9-]+)?$`));
    }
  });

  it("installs production dependencies only, from the lockfile, outside the final stage", () => {
    const runs = dockerfile.stages.flatMap((stage) =>
      stage.instructions.filter((i) => i.keyword === "RUN").map((i) => ({ stage, args: i.args })),
    );
    const installs = runs.filter((run) => /\bnpm\s+(ci|install|i)\b/.test(run.args));
    expect(installs.length).to.equal(1);
    expect(installs[0].args)
      .to.match(/\bnpm ci\b/)
      .and.to.match(/--omit=dev\b/);
    expect(installs[0].stage).to.not.equal(final());
    const copiesFromInstall = instructions("COPY")
      .map((i) => parseCopy(i.args))
      .filter((c) => c.from === installs[0].stage.name);
    expect(copiesFromInstall.map((c) => c.sources.join(" "))).to.deep.equal(["/app/node_modules"]);
  });

  it("runs as a numeric non-root user, the one the Deployments run as", () => {
    const users = instructions("USER");
    expect(users.length).to.be.greaterThan(0);
    const [uid, gid] = users[users.length - 1].args.split(":");
    expect(uid).to.match(/^\d+$/);
    expect(Number(uid)).to.be.greaterThan(0);
    for (const deployment of objectsOf(defaultInstallDir).filter((o) => o.kind === "Deployment")) {
      const context = deployment.spec.template.spec.securityContext;
      expect([context.runAsUser, context.runAsGroup], deployment.metadata.name).to.deep.equal([Number(uid), Number(gid)]);
    }
  });

  it("starts the CLI entry point (exec form), defaulting to a command the CLI serves", () => {
    const entrypoint = execForm(instructions("ENTRYPOINT").at(-1)?.args ?? "");
    expect(entrypoint).to.deep.equal(["node", packageJson.bin.xtrinode]);
    expect(existsSync(path.join(repoRoot, packageJson.bin.xtrinode))).to.equal(true);
    const command = execForm(instructions("CMD").at(-1)?.args ?? "");
    expect(command?.[0]).to.be.oneOf(["operator", "apiserver", "gateway"]);
  });

  it("exposes exactly the ports the Deployments' containers listen on", () => {
    const exposed = instructions("EXPOSE")
      .flatMap((i) => i.args.split(/\s+/))
      .map(Number)
      .sort((a, b) => a - b);
    const declared = objectsOf(defaultInstallDir)
      .filter((o) => o.kind === "Deployment")
      .flatMap((d) => d.spec.template.spec.containers.flatMap((c: any) => c.ports.map((p: any) => p.containerPort as number)))
      .sort((a, b) => a - b);
    expect(exposed).to.deep.equal(declared);
  });

  it("copies only paths that exist and reach the build context through .dockerignore", () => {
    const rules = parseDockerignore(read(".dockerignore"));
    const stageNames = dockerfile.stages.map((s) => s.name);
    for (const stage of dockerfile.stages) {
      for (const instruction of stage.instructions.filter((i) => i.keyword === "COPY" || i.keyword === "ADD")) {
        expect(instruction.keyword, "use COPY, not ADD").to.equal("COPY");
        const copy = parseCopy(instruction.args);
        if (copy.from) {
          expect(stageNames.indexOf(copy.from), `COPY --from=${copy.from}`).to.be.within(0, stageNames.indexOf(stage.name) - 1);
          continue;
        }
        for (const source of copy.sources) {
          expect(existsSync(path.join(repoRoot, source)), `COPY source ${source} (line ${instruction.line}) is missing`).to.equal(true);
          expect(inBuildContext(rules, source.replace(/\/$/, "")), `COPY source ${source} is excluded by .dockerignore`).to.equal(true);
        }
      }
    }
  });

  it("keeps tests, fixtures, node_modules and Git data out of the build context", () => {
    const rules = parseDockerignore(read(".dockerignore"));
    for (const file of [
      "node_modules/x/index.js",
      "test/smoke.test.ts",
      "fixtures/kube-api-server/resources.ts",
      ".git/HEAD",
      "bench/RESULTS.md",
      "gateway/node_modules/x.js",
    ]) {
      expect(inBuildContext(rules, file), file).to.equal(false);
    }
    for (const file of ["package.json", "bin/xtrinode.ts", "schemas/policy.schema.json"])
      expect(inBuildContext(rules, file), file).to.equal(true);
  });

  describe("what the entry point loads at run time", () => {
    let closure: ReturnType<typeof moduleClosure>;
    let copied: string[];
    before(() => {
      closure = moduleClosure(repoRoot, [packageJson.bin.xtrinode, ...registeredModules().map(([file]) => file)]);
      copied = instructions("COPY")
        .map((i) => parseCopy(i.args))
        .filter((c) => !c.from)
        .flatMap((c) => c.sources.map((s) => s.replace(/\/$/, "")));
    });

    it("resolves every relative import", () => {
      expect(closure.unresolved).to.deep.equal([]);
      expect(closure.files.length).to.be.greaterThan(1);
    });

    it("is all copied into the image, and none of it is test infrastructure", () => {
      const rules = parseDockerignore(read(".dockerignore"));
      for (const file of closure.files) {
        expect(
          copied.some((source) => file === source || file.startsWith(`${source}/`)),
          `${file} is not copied into the image`,
        ).to.equal(true);
        expect(inBuildContext(rules, file), `${file} is excluded by .dockerignore`).to.equal(true);
        expect(file, "production code must not load test infrastructure").to.not.match(/^(fixtures|test|bench)\//);
      }
    });

    it("needs only production dependencies (npm ci --omit=dev installs nothing else)", () => {
      const notProduction = closure.packages.filter((name) => !(name in packageJson.dependencies));
      expect(notProduction, "imported at run time but not in package.json dependencies").to.deep.equal([]);
    });

    it("the import scanner sees static, dynamic and re-export imports and skips type-only ones", () => {
      const source = `import a from "pkg-a";\nimport { type T, b } from "./b.ts";\nimport type { X } from "pkg-x";\nexport { c } from "../c.ts";\nconst d = await import("pkg-d");\nimport "./side.ts";`;
      expect(runtimeImports(source)).to.deep.equal(["pkg-a", "./b.ts", "../c.ts", "pkg-d", "./side.ts"]);
    });
  });
});
