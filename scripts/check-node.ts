// Fails fast when the tests would run on anything older than the pinned Node 24
// (e.g. the machine's Node 20 picked up outside npm scripts).
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  console.error(
    `xtrinode needs Node >= 24 (found ${process.version}). Run through npm scripts after "npm ci": the "node" devDependency provides Node 24.`,
  );
  process.exit(1);
}
