// `xtrinode gitops sync` as a process: secret values never reach Git, invalid specs commit nothing.
import { expect } from "chai";
import path from "node:path";
import { gitopsSync } from "../../reconciler/gitops/sync.ts";
import {
  commitCount,
  commitSpecs,
  git,
  initBare,
  initRepo,
  runCli,
  runtimeYaml,
  secretCatalogYaml,
  tempDirs,
  writeSpec,
} from "./support.ts";

const PLANTED = ["pl4nted-DB-passw0rd-7f3a", "pl4nted-user-91c2", "pl4nted-env-token-55e1"];

function secretManifest(): string {
  return [
    "apiVersion: v1",
    "kind: Secret",
    "metadata: { name: warehouse-db, namespace: team-a }",
    "stringData:",
    `  username: ${PLANTED[1]}`,
    `  password: ${PLANTED[0]}`,
    "",
  ].join("\n");
}

describe("gitops sync CLI", function () {
  const temp = tempDirs();
  let repo: string;
  let remote: string;
  const sync = (specs: string, env?: Record<string, string>) =>
    runCli(["gitops", "sync", "--specs", specs, "--target", remote, "--branch", "main", "--push"], { env });

  beforeEach(async () => {
    const root = await temp.make("cli");
    repo = path.join(root, "spec-repo");
    remote = await initBare(path.join(root, "rendered.git"));
    await initRepo(repo);
    await writeSpec(repo, "specs/catalogs.yaml", secretCatalogYaml("warehouse"));
    await writeSpec(repo, "specs/bi.yaml", runtimeYaml("bi", { catalogs: ["warehouse"] }));
    // Secret-like fixtures next to the specs: the real Secret manifest and an env file.
    await writeSpec(repo, "secrets/warehouse-db.yaml", secretManifest());
    await writeSpec(repo, "specs/.env", `XTN_CAT_WAREHOUSE_CONNECTION_PASSWORD=${PLANTED[0]}\n`);
    await commitSpecs(repo, "bi with a secret-backed catalog");
  });
  after(() => temp.cleanup());

  it("renders Secret references, never a planted secret value, anywhere in the target's history", async () => {
    const env = {
      XTN_CAT_WAREHOUSE_CONNECTION_PASSWORD: PLANTED[0],
      XTN_CAT_WAREHOUSE_CONNECTION_USER: PLANTED[1],
      GIT_PASSWORD: PLANTED[2],
      XTRINODE_TOKEN: PLANTED[2],
    };
    const first = await sync(path.join(repo, "specs"), env);
    expect(first.code, first.stderr).to.equal(0);
    expect(JSON.parse(first.stdout).event).to.equal("committed");
    await writeSpec(repo, "specs/bi.yaml", runtimeYaml("bi", { catalogs: ["warehouse"], workers: 2 }));
    await commitSpecs(repo, "bi: 2 workers");
    // A second sync in-process (env planted there too) adds a commit with a diff to search.
    Object.assign(process.env, env);
    let second;
    try {
      second = await gitopsSync({ specs: path.join(repo, "specs"), target: remote, branch: "main", push: true });
    } finally {
      for (const key of Object.keys(env)) delete process.env[key];
    }
    expect(second.committed).to.equal(true);
    const history = await git(remote, "log", "-p", "--all");
    // The references are there (so the search below looks at the right content)…
    expect(history).to.include("secretKeyRef").and.include("name: warehouse-db").and.include("XTN_CAT_WAREHOUSE_CONNECTION_PASSWORD");
    // …the values nowhere: not in files, not in commit messages, not in the output.
    for (const secret of PLANTED) {
      expect(history, secret).not.to.include(secret);
      expect(first.stdout + first.stderr + (second.message ?? "")).not.to.include(secret);
    }
  });

  it("--spec-repo/--spec-ref: renders a spec repository at a ref and records it as the source", async () => {
    const specRemote = await initBare(path.join(path.dirname(remote), "specs.git"));
    await git(repo, "push", "--quiet", specRemote, "HEAD:refs/heads/main");
    const commit = (await git(repo, "rev-parse", "HEAD")).trim();
    const result = await runCli([
      "gitops",
      "sync",
      "--spec-repo",
      specRemote,
      "--spec-ref",
      "main",
      "--spec-path",
      "specs",
      "--target",
      remote,
      "--branch",
      "main",
      "--path-prefix",
      "prod",
      "--push",
    ]);
    expect(result.code, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.include({ event: "committed", added: ["team-a/bi"] });
    const metadata = await git(remote, "show", "main:prod/xtrinode-gitops.yaml");
    expect(metadata).to.include(`repo: ${specRemote}`).and.include(`commit: ${commit}`).and.include("path: specs");
  });

  it("a Secret in the spec directory: refused, nothing committed, the value not echoed", async () => {
    await writeSpec(repo, "specs/secret.yaml", secretManifest());
    const result = await sync(path.join(repo, "specs"));
    expect(result.code).to.equal(1);
    expect(result.stderr)
      .to.match(/secret\.yaml.*kind "Secret"/)
      .and.include("nothing committed");
    for (const secret of PLANTED) expect(result.stderr + result.stdout).not.to.include(secret);
    expect(await commitCount(remote)).to.equal(0);
  });

  it("invalid specs: exit 1, every error listed (file, document, kind/name, field), nothing committed", async () => {
    await gitopsSync({ specs: path.join(repo, "specs"), target: remote, branch: "main", push: true });
    await writeSpec(repo, "specs/bi.yaml", runtimeYaml("bi", { workers: -1 }));
    await writeSpec(repo, "specs/more.yaml", `${runtimeYaml("ok")}---\n${runtimeYaml("bad").replace("mode: fixed", "mode: sometimes")}`);
    const result = await sync(path.join(repo, "specs"));
    expect(result.code).to.equal(1);
    const errors = result.stderr.split("\n").filter((l) => l.startsWith("error: "));
    expect(
      errors.some((l) => /specs\/bi\.yaml#0 XTrinode\/team-a\/bi: spec\.workers\.count: /.test(l)),
      result.stderr,
    ).to.equal(true);
    expect(
      errors.some((l) => /specs\/more\.yaml#1 XTrinode\/team-a\/bad: spec\.workers/.test(l)),
      result.stderr,
    ).to.equal(true);
    expect(result.stderr).to.include("nothing committed");
    expect(await commitCount(remote)).to.equal(1);
  });
});
