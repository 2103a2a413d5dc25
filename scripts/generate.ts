// `npm run gen`: regenerates everything derived from the JSON Schemas.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { schemasDir } from "../schemas/schema-files.ts";
import { toYaml } from "../renderer/output.ts";
import { crdDeployFiles } from "../schemas/crds.ts";
import { generateTypes } from "./gen-types.ts";

writeFileSync(path.join(schemasDir, "generated", "types.ts"), await generateTypes());
console.log("wrote schemas/generated/types.ts");

const crdsDir = path.join(schemasDir, "..", "deploy", "crds");
for (const [file, content] of crdDeployFiles(toYaml)) {
  writeFileSync(path.join(crdsDir, file), content);
  console.log(`wrote deploy/crds/${file}`);
}
