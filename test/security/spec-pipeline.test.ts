// Adversarial suite for the spec pipeline (docs/SECURITY.md "Spec pipeline"): what an untrusted spec
// author can put in a file or an object and what must hold. Each case is bounded by construction: inputs
// have a fixed size, processes are killed at a deadline, and nothing loops on what the input says.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import {
  loadSpecs,
  parseDocuments,
  renderAll,
  renderRuntime,
  RenderError,
  SPEC_LIMITS,
  SpecLoadError,
  validateRuntime,
  validateSpecSet,
  type SpecSet,
} from "../../renderer/index.ts";
import type { XTrinode, XTrinodeCatalog, XTrinodePolicy } from "../../renderer/types.ts";
import { repoRoot, xtrinodeBin } from "../support/process.ts";

const overlayPolicy: XTrinodePolicy = {
  apiVersion: "xtrinode.io/v1alpha1",
  kind: "XTrinodePolicy",
  namespaces: { platform: { allowValuesOverlay: true } },
} as XTrinodePolicy;

function runtime(spec: Record<string, unknown> = {}): XTrinode {
  return { apiVersion: "xtrinode.io/v1alpha1", kind: "XTrinode", metadata: { name: "etl", namespace: "platform" }, spec } as XTrinode;
}

function catalog(spec: Record<string, unknown>): XTrinodeCatalog {
  return {
    apiVersion: "xtrinode.io/v1alpha1",
    kind: "XTrinodeCatalog",
    metadata: { name: "pg", namespace: "platform" },
    spec: { connector: "postgresql", ...spec },
  } as XTrinodeCatalog;
}

/** `levels` anchors, each a list of `fanout` aliases of the one before: fanout^levels leaves in a few hundred bytes. */
function aliasBomb(levels: number, fanout: number): string {
  const lines = [
    "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinodePolicy\nnamespaces:\n  platform:\n    allowValuesOverlay: true\n---",
    "apiVersion: xtrinode.io/v1alpha1\nkind: XTrinode\nmetadata:\n  name: etl\n  namespace: platform\nspec:\n  valuesOverlay:\n    server:\n      autoscaling:\n        enabled: true\n        maxReplicas: 12\n        behavior:",
    `          a0: &a0 [${Array(fanout).fill("xxxxxxxx").join(", ")}]`,
  ];
  for (let i = 1; i < levels; i++)
    lines.push(
      `          a${i}: &a${i} [${Array(fanout)
        .fill(`*a${i - 1}`)
        .join(", ")}]`,
    );
  return lines.join("\n") + "\n";
}

/** A JS object graph as the API would never send it but a YAML parser builds it: shared subtrees, fanout^levels leaves. */
function sharedGraph(levels: number, fanout: number): unknown {
  let node: unknown = Array(fanout).fill("xxxxxxxx");
  for (let i = 1; i < levels; i++) node = Array(fanout).fill(node);
  return node;
}

function nested(depth: number): unknown {
  let node: unknown = "leaf";
  for (let i = 0; i < depth; i++) node = { a: node };
  return node;
}

/** Keys java.util.Properties reads from a properties file (separators =, :, whitespace; line continuations; comments). */
function javaPropertyKeys(text: string): string[] {
  const keys: string[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].replace(/^[ \t\f]+/, "");
    if (!line || line.startsWith("#") || line.startsWith("!")) continue;
    // An odd number of trailing backslashes joins the next line (its leading whitespace dropped).
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i].replace(/^[ \t\f]+/, "");
    let key = "";
    for (let j = 0; j < line.length; j++) {
      const c = line[j];
      if (c === "\\") {
        key += line[++j] ?? "";
        continue;
      }
      if (c === "=" || c === ":" || c === " " || c === "\t" || c === "\f") break;
      key += c;
    }
    keys.push(key);
  }
  return keys;
}

function xtrinode(args: string[], deadlineMs: number): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [xtrinodeBin, ...args],
      { cwd: repoRoot, timeout: deadlineMs, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({
          code: error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : null) : 0,
          stdout,
          stderr,
          killed: child.killed,
        });
      },
    );
  });
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof RenderError) return error.issues.map((i) => `${i.kind ?? ""} ${i.path}: ${i.message}`);
    throw error;
  }
  return [];
}

describe("security: spec pipeline", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "xtn-sec-spec-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("alias bombs and document size", () => {
    it("the loader refuses an alias bomb in a free-form valuesOverlay field, naming file, document and field", () => {
      const text = aliasBomb(9, 9);
      expect(text.length).to.be.below(1500);
      expect(() => parseDocuments("bomb.yaml", text)).to.throw(
        SpecLoadError,
        /^bomb\.yaml:7: document 1 \(XTrinode platform\/etl\): spec\.valuesOverlay\.server\.autoscaling\.behavior\.a\d.*larger than 1572864 bytes.*alias/,
      );
    });

    it("`xtrinode validate` and `xtrinode render` (processes) both refuse the 1.3 KB bomb with the same error", async () => {
      const file = path.join(dir, "bomb.yaml");
      writeFileSync(file, aliasBomb(10, 9));
      // The deadline bounds the test: without the bound, render expands the bomb until it is killed.
      const [validate, render] = await Promise.all([xtrinode(["validate", file], 45_000), xtrinode(["render", file], 45_000)]);
      for (const result of [validate, render]) {
        expect(result.killed, "killed at the deadline").to.equal(false);
        expect(result.code).to.equal(1);
        expect(result.stderr).to.include(`${file}:7: document 1 (XTrinode platform/etl): spec.valuesOverlay.server.autoscaling.behavior.a`);
        expect(result.stdout).to.equal("");
      }
      expect(validate.stderr).to.equal(render.stderr);
    });

    it("the operator's input (objects from the API) is bounded too: shared subtrees, a 2 MB overlay, 100 levels of nesting", () => {
      const cases: Array<[unknown, RegExp]> = [
        [sharedGraph(8, 8), /spec\.valuesOverlay\.server\.autoscaling\.behavior\.bomb\[.*larger than 1572864 bytes/],
        [
          Array.from({ length: 2048 }, (_, i) => `${i}-${"x".repeat(1024)}`),
          /spec\.valuesOverlay\.server\.autoscaling\.behavior\.bomb\[\d+\].*larger than/,
        ],
        [nested(100), /spec\.valuesOverlay\.server\.autoscaling\.behavior\.bomb(\.a)+: nests deeper than 64 levels/],
      ];
      for (const [bomb, expected] of cases) {
        const input = {
          runtime: runtime({ valuesOverlay: { server: { autoscaling: { enabled: true, maxReplicas: 3, behavior: { bomb } } } } }),
          catalogs: [],
          policy: overlayPolicy,
        };
        const issues = issuesOf(() => renderRuntime(input));
        expect(issues.join("\n")).to.match(expected);
        expect(validateRuntime(input).map((i) => `${i.kind ?? ""} ${i.path}: ${i.message}`)).to.deep.equal(issues);
      }
    });

    it("a catalog from the API is bounded before its schema is checked", () => {
      const big = catalog({ properties: Object.fromEntries(Array.from({ length: 1600 }, (_, i) => [`p${i}`, "y".repeat(1024)])) });
      const issues = issuesOf(() =>
        renderRuntime({ runtime: runtime({ catalogs: { names: ["pg"] } }), catalogs: [big], policy: overlayPolicy }),
      );
      expect(issues.join("\n")).to.match(/^XTrinodeCatalog spec\.properties\.p\d+: the document is larger than 1572864 bytes/);
    });

    it("a spec file larger than the limit is refused before it is read", async () => {
      const file = path.join(dir, "huge.yaml");
      truncateSync((writeFileSync(file, ""), file), SPEC_LIMITS.fileBytes + 1); // sparse: no disk, no memory
      const error = await loadSpecs([file]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(SpecLoadError);
      expect((error as Error).message).to.equal(
        `${file}: is larger than ${SPEC_LIMITS.fileBytes} bytes; split the specs into several files`,
      );
    });

    it("YAML merge keys and non-JSON values are refused; timestamps stay strings (YAML 1.2 core schema)", () => {
      expect(() => parseDocuments("m.yaml", "base: &b {x: 1}\nkind: XTrinode\nspec:\n  <<: *b\n")).to.throw(
        SpecLoadError,
        /m\.yaml:1: document 0 \(XTrinode\): spec\.<<: YAML merge keys/,
      );
      expect(() => parseDocuments("b.yaml", "kind: XTrinode\nspec: !!binary aGVsbG8=\n")).to.throw(SpecLoadError, /invalid YAML/);
      expect(() => parseDocuments("n.yaml", "kind: XTrinode\nspec: {a: .inf}\n")).to.throw(
        SpecLoadError,
        /spec\.a: Infinity is not a JSON number/,
      );
      const [{ doc }] = parseDocuments("t.yaml", "kind: XTrinode\nspec: {at: 2026-01-01, on: yes, n: ~}\n");
      expect(doc).to.deep.equal({ kind: "XTrinode", spec: { at: "2026-01-01", on: "yes", n: null } });
    });

    it("a __proto__ key stays an ordinary key", () => {
      const [{ doc }] = parseDocuments("p.yaml", "kind: XTrinode\nspec: {__proto__: {polluted: true}}\n");
      expect(Object.getPrototypeOf((doc as { spec: object }).spec)).to.equal(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(Object.keys((doc as { spec: object }).spec)).to.deep.equal(["__proto__"]);
    });
  });

  describe("annotations Kubernetes would refuse", () => {
    const big = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`example.com/a${i}`, "v".repeat(1000)]));

    it("more than 256 KiB of annotations, in the spec or through the overlay, and bad keys are refused naming the field", () => {
      const overlay = { coordinator: { annotations: { ...big(262), "Bad_Prefix/x": "1" } }, service: { annotations: big(263) } };
      const issues = validateRuntime({
        runtime: {
          ...runtime({ valuesOverlay: overlay }),
          metadata: { name: "etl", namespace: "platform", annotations: big(263) },
        } as XTrinode,
        catalogs: [],
        policy: overlayPolicy,
      })
        .map((i) => `${i.path}: ${i.message}`)
        .join("\n");
      expect(issues).to.match(/^metadata\.annotations: annotations total 2\d{5} bytes, and the API server refuses more than 262144 bytes/m);
      expect(issues).to.not.include("spec.valuesOverlay");
      const overlayIssues = validateRuntime({ runtime: runtime({ valuesOverlay: overlay }), catalogs: [], policy: overlayPolicy })
        .map((i) => `${i.path}: ${i.message}`)
        .join("\n");
      expect(overlayIssues).to.include("spec.valuesOverlay.coordinator.annotations.Bad_Prefix/x: is not a valid annotation key");
      expect(overlayIssues).to.match(
        /^spec\.valuesOverlay\.coordinator\.annotations: annotations total \d+ bytes \(with 256 bytes kept for XTrinode's own\)/m,
      );
      expect(overlayIssues).to.match(/^spec\.valuesOverlay\.service\.annotations: annotations total/m);
      // Just under the limit passes.
      expect(
        validateRuntime({
          runtime: runtime({ valuesOverlay: { service: { annotations: big(250) } } }),
          catalogs: [],
          policy: overlayPolicy,
        }),
      ).to.deep.equal([]);
    });

    it("a catalog's metadata.annotations are bounded too", () => {
      const issues = validateSpecSet({
        runtimes: [runtime()],
        catalogs: [{ ...catalog({}), metadata: { name: "pg", namespace: "platform", annotations: big(263) } } as XTrinodeCatalog],
        sources: new Map(),
      } as SpecSet);
      expect(issues.map((i) => `${i.kind} ${i.path}: ${i.message}`).join("\n")).to.match(
        /^XTrinodeCatalog metadata\.annotations: annotations total/m,
      );
    });
  });

  describe("many documents in one file", () => {
    it("120,000 documents load (linear) with every document's line and index right", () => {
      const count = 120_000;
      const parts: string[] = [];
      for (let i = 0; i < count; i++)
        parts.push(
          `# catalog ${i}\napiVersion: xtrinode.io/v1alpha1\nkind: XTrinodeCatalog\nmetadata: {name: c${i}, namespace: a}\nspec: {connector: tpch}\n`,
        );
      const text = "---\n" + parts.join("---\n");
      const docs = parseDocuments("many.yaml", text);
      expect(docs).to.have.length(count);
      expect(docs[0].line).to.equal(2);
      expect(docs[count - 1].line).to.equal(2 + 6 * (count - 1));
      expect((docs[count - 1].doc as { metadata: { name: string } }).metadata.name).to.equal(`c${count - 1}`);
    });

    it("more documents than the limit are refused before parsing, naming the count and the fix", () => {
      const text = "a: 1\n---\n".repeat(SPEC_LIMITS.documentsPerFile);
      expect(() => parseDocuments("tiny.yaml", text)).to.throw(
        SpecLoadError,
        `tiny.yaml: holds ${SPEC_LIMITS.documentsPerFile + 1} YAML documents, more than ${SPEC_LIMITS.documentsPerFile}; split the specs into several files`,
      );
    });
  });

  describe("property keys and values cannot inject lines", () => {
    const injected = "x\nconnection-password";

    it("catalog properties: a key with a line break or a trailing backslash is refused, naming the key", () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ properties: { [injected]: "hunter2" } }, `spec.properties.${JSON.stringify(injected)}`],
        [{ properties: { "connection-url\\": "connection-password=hunter2" } }, `spec.properties."connection-url\\\\"`],
        [{ properties: { "a=b": "c" } }, `spec.properties."a=b"`],
        [{ secretProperties: { "user\n#": { secretName: "pg", key: "password" } } }, `spec.secretProperties."user\\n#"`],
      ];
      for (const [spec, path] of cases) {
        const issues = validateSpecSet({
          runtimes: [runtime({ catalogs: { names: ["pg"] } })],
          catalogs: [catalog(spec)],
          sources: new Map(),
        } as SpecSet);
        expect(issues.map((i) => `${i.path}: ${i.message}`).join("\n")).to.include(`${path}: is not a valid key (a Trino property name`);
        expect(() =>
          renderAll({ runtimes: [runtime({ catalogs: { names: ["pg"] } })], catalogs: [catalog(spec)], sources: new Map() } as SpecSet),
        ).to.throw(RenderError);
      }
    });

    it("config maps (spec.coordinator.config, spec.workers.config) refuse invalid keys; jvm options stay one line", () => {
      const issues = validateRuntime({
        runtime: runtime({
          coordinator: { config: { [injected]: "x" }, jvm: { extraOptions: ["-Xss4m\n-javaagent:/tmp/a.jar"] } },
          workers: { config: { "a b": "c" } },
        }),
        catalogs: [],
        policy: undefined,
      }).map((i) => `${i.path}: ${i.message}`);
      expect(issues.join("\n")).to.include(`spec.coordinator.config.${JSON.stringify(injected)}: is not a valid key`);
      expect(issues.join("\n")).to.include(`spec.workers.config."a b": is not a valid key`);
      expect(issues.join("\n")).to.include("spec.coordinator.jvm.extraOptions[0]: must match");
    });

    it("valuesOverlay properties lines: no injected line, no continuation, no bad key", () => {
      const overlay = {
        additionalConfigProperties: ["a=b\nhttp-server.http.port=1"],
        additionalLogProperties: ["io.trino=DEBUG\\"],
        additionalNodeProperties: ["bad key=1"],
        server: { coordinatorExtraConfig: "x=1\ny=2\\\n", workerExtraConfig: "a=1\rb=2\n" },
      };
      const issues = validateRuntime({ runtime: runtime({ valuesOverlay: overlay }), catalogs: [], policy: overlayPolicy })
        .map((i) => `${i.path}: ${i.message}`)
        .join("\n");
      expect(issues).to.include("spec.valuesOverlay.additionalConfigProperties[0]: is one properties-file line and contains a line break");
      expect(issues).to.include("spec.valuesOverlay.additionalLogProperties[0]: has the property io.trino ending in a backslash");
      expect(issues).to.include(
        `spec.valuesOverlay.additionalNodeProperties[0]: has the key "bad key", which is not a Trino property name`,
      );
      expect(issues).to.include("spec.valuesOverlay.server.coordinatorExtraConfig: has the property y ending in a backslash");
      expect(issues).to.include("spec.valuesOverlay.server.workerExtraConfig: contains a carriage return");
    });

    it("valuesOverlay settings the renderer writes into properties files and jvm.config add no line", () => {
      // Scalars the values schema leaves free-form; each used to land in a file unescaped.
      const overlay = {
        server: {
          node: { dataDir: "/data\nhttp-server.http.port=1", pluginDir: "/plugins\\" },
          config: { path: "/etc/trino\nx.y=1", query: { maxMemory: "4GB\rquery.max-memory=1TB" } },
        },
        coordinator: {
          config: { query: { maxMemoryPerNode: "1GB\ninjected.a=1" }, memory: { heapHeadroomPerNode: "1GB\ninjected.b=1" } },
          jvm: { gcMethod: { type: "UseG1GC\n-javaagent:/tmp/a.jar", g1: { heapRegionSize: "32M\r-Dx=1" } } },
        },
        worker: { additionalJVMConfig: ["-Dok=1", "-Da=1\n-javaagent:/tmp/b.jar"], gracefulShutdown: { enabled: true } },
      };
      const issues = validateRuntime({ runtime: runtime({ valuesOverlay: overlay }), catalogs: [], policy: overlayPolicy })
        .map((i) => `${i.path}: ${i.message}`)
        .join("\n");
      for (const path of ["coordinator.jvm.gcMethod.type", "coordinator.jvm.gcMethod.g1.heapRegionSize", "worker.additionalJVMConfig[1]"]) {
        expect(issues).to.include(`spec.valuesOverlay.${path}: is one line of jvm.config and contains a line break`);
      }
      expect(issues).to.not.include("additionalJVMConfig[0]");
      // Properties values are escaped: each setting stays the one property it names, as Java reads it.
      const jvmSafe = { ...overlay, coordinator: { config: overlay.coordinator.config }, worker: { gracefulShutdown: { enabled: true } } };
      const result = renderAll({
        runtimes: [runtime({ valuesOverlay: jvmSafe })],
        catalogs: [],
        sources: new Map(),
        policy: overlayPolicy,
      } as unknown as SpecSet);
      const data = (name: string) =>
        result.objects.find((o) => o.kind === "ConfigMap" && (o.metadata as { name: string }).name === name)!.data as Record<
          string,
          string
        >;
      for (const role of ["coordinator", "worker"]) {
        const files = data(`etl-trino-${role}`);
        expect(javaPropertyKeys(files["node.properties"])).to.deep.equal(["node.environment", "node.data-dir", "plugin.dir"]);
        const config = javaPropertyKeys(files["config.properties"]);
        expect(config.filter((key) => key === "query.max-memory")).to.have.length(1);
        expect(config).to.not.include.members(["injected.a", "injected.b", "x.y"]);
      }
      expect(javaPropertyKeys(data("etl-trino-worker")["access-control.properties"])).to.deep.equal([
        "access-control.name",
        "security.config-file",
      ]);
    });

    it("values with line breaks, backslashes and separators stay one property as Java reads the rendered file", () => {
      const values = { "connection-url": "jdbc:x://h/db\nconnection-password=hunter2", "a.b": "ends in \\", "c-d": "=:#!\r\n\\\\n" };
      const result = renderAll({
        runtimes: [runtime({ catalogs: { names: ["pg"] }, coordinator: { config: { "x.y": "1\nz=2\\" } } })],
        catalogs: [catalog({ properties: values })],
        sources: new Map(),
      } as SpecSet);
      const data = (kind: string, name: string) =>
        result.objects.find((o) => o.kind === kind && (o.metadata as { name: string }).name === name)!.data as Record<string, string>;
      expect(javaPropertyKeys(data("ConfigMap", "etl-trino-catalog")["pg.properties"])).to.deep.equal([
        "connector.name",
        "a.b",
        "c-d",
        "connection-url",
      ]);
      const coordinatorKeys = javaPropertyKeys(data("ConfigMap", "etl-trino-coordinator")["config.properties"]);
      expect(coordinatorKeys).to.include("x.y").and.not.include("z");
      expect(coordinatorKeys.at(-1)).to.equal("x.y");
    });
  });
});
