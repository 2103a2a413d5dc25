// Routes files for gateways under test and benchmark (`xtrinode gateway --routes-file`), written with the
// product's one routes codec and replaced atomically, as a ConfigMap volume update is.
import { renameSync, writeFileSync } from "node:fs";
import { emptyRoutes, encodeRoutes } from "../../schemas/api/index.ts";
import type { RouteEntry } from "../../schemas/generated/types.ts";

export function writeRoutesFile(file: string, routes: RouteEntry[]): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, encodeRoutes({ ...emptyRoutes(), routes }));
  renameSync(temporary, file);
}
