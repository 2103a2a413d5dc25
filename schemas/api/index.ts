// The XTrinode API package: what every component names the same way (schemas/api/README.md).
export * from "./group.ts";
export * from "./metadata.ts";
export * from "./names.ts";
export * from "./routes.ts";
export * from "./merge-patch.ts";
export * from "./cel-rules.ts";
