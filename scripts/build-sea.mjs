// Builds the single executable (Node's single executable applications, Node >= 20.12):
//   1. one CommonJS bundle of the CLI (src/cli/sea/main.ts), with src/cli/sea/package-root.ts
//      standing in for src/shared/core/package-root.ts;
//   2. the SEA blob, with shell/* embedded as assets exactly as they are now (so `init` prints
//      the same bytes as bin/ssh-anchor does from the package);
//   3. a copy of this Node binary with the blob injected by postject.
// Nothing is downloaded: the Node binary is the one running this script.
//
//   node scripts/build-sea.mjs [OUTPUT]     (default: build/ssh-anchor)
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const output = resolve(process.argv[2] ?? join(root, "build", "ssh-anchor"));
const work = join(root, "build", "sea");
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 12)) {
  console.error(`build-sea: Node ${process.versions.node} cannot build it; Node 20.12 or later is needed (SEA assets)`);
  process.exit(1);
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
mkdirSync(dirname(output), { recursive: true });
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;

// 1. The bundle.
const seaPackageRoot = join(root, "src", "cli", "sea", "package-root.ts");
await build({
  entryPoints: [join(root, "src", "cli", "sea", "main.ts")],
  outfile: join(work, "main.cjs"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  define: { __SSH_ANCHOR_VERSION__: JSON.stringify(version), "import.meta.url": "__ssh_anchor_url" },
  // createRequire(import.meta.url) (node:crypto, loaded lazily) needs a file URL; this one names
  // the executable.
  banner: { js: 'const __ssh_anchor_url = require("node:url").pathToFileURL(process.execPath).href;' },
  plugins: [
    {
      name: "sea-package-root",
      setup(b) {
        b.onResolve({ filter: /(^|\/)package-root\.js$/ }, () => ({ path: seaPackageRoot }));
      },
    },
  ],
});

// 2. The blob, with the shell files as they are at build time.
const assets = {};
for (const name of readdirSync(join(root, "shell")).sort()) assets[`shell/${name}`] = join(root, "shell", name);
const config = {
  main: join(work, "main.cjs"),
  output: join(work, "sea-prep.blob"),
  disableExperimentalSEAWarning: true,
  // No code cache: V8 rejects it, with a warning on stderr at every start, whenever the V8
  // flags differ from the build's (NODE_OPTIONS=--max-old-space-size=..., which the executable
  // honours), and the rc line must print nothing. It saved about a tenth of the start-up.
  useCodeCache: false,
  assets,
};
writeFileSync(join(work, "sea-config.json"), JSON.stringify(config, null, 2));
execFileSync(process.execPath, ["--experimental-sea-config", join(work, "sea-config.json")], { stdio: ["ignore", "ignore", "inherit"] });

// 3. Node plus the blob.
rmSync(output, { force: true });
copyFileSync(process.execPath, output);
chmodSync(output, 0o755);
// macOS: Node's binary is signed; the signature must go before the blob goes in (then re-signed ad hoc).
if (process.platform === "darwin") execFileSync("codesign", ["--remove-signature", output]);
const { inject } = await import("postject");
await inject(output, "NODE_SEA_BLOB", readFileSync(config.output), {
  sentinelFuse: "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  machoSegmentName: process.platform === "darwin" ? "NODE_SEA" : undefined,
});
if (process.platform === "darwin") execFileSync("codesign", ["--sign", "-", output]);
console.log(`build-sea: ${output} (ssh-anchor ${version}, Node ${process.versions.node})`);
