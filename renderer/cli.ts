// `xtrinode render | values | validate | crds`: thin shell over the pure renderer.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { type Command, Option } from "commander";
import { generateCrds } from "../schemas/crds.ts";
import { compare } from "./catalogs.ts";
import { loadPolicy, loadSpecs, SpecLoadError } from "./load.ts";
import { namespaceOf } from "./names.ts";
import { objectFileName, toYaml, toYamlStream } from "./output.ts";
import { defaultGatewayNamespace } from "../schemas/api/index.ts";
import { renderAll, routesConfigMap } from "./render.ts";
import { formatIssue, RenderError, type KubeObject, type SpecSet } from "./types.ts";

type Format = "yaml" | "json";
const formatOption = () => new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml");

async function loadSet(paths: string[], policyFile?: string): Promise<SpecSet> {
  const set = await loadSpecs(paths);
  if (policyFile) {
    if (set.policy) throw new SpecLoadError(policyFile, "--policy given, but the spec files already contain an XTrinodePolicy");
    set.policy = await loadPolicy(policyFile);
  }
  return set;
}

function serialise(docs: unknown[], format: Format): string {
  if (format === "json")
    return JSON.stringify(docs.length === 1 ? docs[0] : { apiVersion: "v1", kind: "List", items: docs }, null, 2) + "\n";
  return docs.length === 1 ? toYaml(docs[0]) : toYamlStream(docs);
}

/** Prints load and validation errors (every one) and sets a failing exit code. */
function fail(error: unknown): void {
  if (error instanceof RenderError) for (const issue of error.issues) process.stderr.write(`error: ${formatIssue(issue)}\n`);
  else if (error instanceof SpecLoadError) process.stderr.write(`error: ${error.message}\n`);
  else throw error;
  process.exitCode = 1;
}

async function writeObjects(objects: KubeObject[], dir: string, format: Format): Promise<void> {
  for (const object of objects) {
    const file = path.join(dir, objectFileName(object, format));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, serialise([object], format));
  }
}

export function registerRenderCommands(program: Command): void {
  program
    .command("render")
    .description("Render XTrinode specs (files or directories of multi-document YAML) into Kubernetes objects; no cluster needed")
    .argument("<paths...>", "spec files or directories")
    .option("--out <dir>", "write one file per object under DIR (<namespace>/<kind>-<name>.<ext>) instead of stdout")
    .option("--policy <file>", "operator policy file (XTrinodePolicy)")
    .option("--gateway-namespace <namespace>", "namespace of the gateway routes ConfigMap", defaultGatewayNamespace)
    .option("--no-routes", "leave out the gateway routes ConfigMap")
    .option("--allow-empty", "accept specs without any XTrinode (renders no runtimes)")
    .addOption(formatOption())
    .action(
      async (
        paths: string[],
        options: { out?: string; policy?: string; gatewayNamespace: string; routes: boolean; allowEmpty?: boolean; output: Format },
      ) => {
        try {
          const result = renderAll(await loadSet(paths, options.policy), { allowEmpty: options.allowEmpty });
          const objects = options.routes ? [...result.objects, routesConfigMap(result.routes, options.gatewayNamespace)] : result.objects;
          if (options.out) {
            await writeObjects(objects, options.out, options.output);
            process.stderr.write(`wrote ${objects.length} objects under ${options.out}\n`);
          } else process.stdout.write(serialise(objects, options.output));
        } catch (error) {
          fail(error);
        }
      },
    );

  program
    .command("values")
    .description("Print the Helm values (Trino chart keys) of one runtime")
    .argument("<runtime>", "runtime name, or namespace/name")
    .argument("[paths...]", "spec files or directories", ["."])
    .option("--policy <file>", "operator policy file (XTrinodePolicy)")
    .addOption(formatOption())
    .action(async (wanted: string, paths: string[], options: { policy?: string; output: Format }) => {
      try {
        const set = await loadSet(paths, options.policy);
        const matches = set.runtimes.filter((r) => r.metadata.name === wanted || `${namespaceOf(r)}/${r.metadata.name}` === wanted);
        if (matches.length !== 1) {
          const known = set.runtimes.map((r) => `${namespaceOf(r)}/${r.metadata.name}`).sort(compare);
          process.stderr.write(
            matches.length
              ? `error: "${wanted}" is ambiguous (${matches.map((r) => `${namespaceOf(r)}/${r.metadata.name}`).join(", ")}); use namespace/name\n`
              : `error: no runtime "${wanted}" in ${paths.join(", ")} (known: ${known.join(", ") || "none"})\n`,
          );
          process.exitCode = 1;
          return;
        }
        const key = `${namespaceOf(matches[0])}/${matches[0].metadata.name}`;
        const rendered = renderAll(set).runtimes.find((r) => `${r.namespace}/${r.name}` === key)!;
        process.stdout.write(serialise([rendered.values], options.output));
      } catch (error) {
        fail(error);
      }
    });

  program
    .command("validate")
    .description("Validate XTrinode specs; exits non-zero listing every error (file, document, kind/name, field, message)")
    .argument("<paths...>", "spec files or directories")
    .option("--policy <file>", "operator policy file (XTrinodePolicy)")
    .option("--allow-empty", "accept specs without any XTrinode")
    .action(async (paths: string[], options: { policy?: string; allowEmpty?: boolean }) => {
      try {
        const set = await loadSet(paths, options.policy);
        // Everything render runs (validation, values, templates, the routes document): a PR check that
        // passes here cannot be followed by a render that fails or hangs.
        const result = renderAll(set, { allowEmpty: options.allowEmpty });
        routesConfigMap(result.routes);
        process.stdout.write(`valid: ${set.runtimes.length} runtimes, ${set.catalogs.length} catalogs${set.policy ? ", 1 policy" : ""}\n`);
      } catch (error) {
        fail(error);
      }
    });

  program
    .command("crds")
    .description("Print the CustomResourceDefinitions (generated from the JSON Schemas)")
    .action(() => {
      process.stdout.write(toYamlStream(generateCrds()));
    });
}
