// Bundles the command line into one file, dist/cli.js: one module to load instead of thirty
// keeps both start-up time and the daemon's resident memory down, and leaves no runtime
// dependencies to install. The library (dist/index.js) is built by tsc, module by module.
// The daemon has a bundle of its own, dist/daemon.js (src/cli/daemon-entry.ts): a third of the
// size, without commander and the commands, which a daemon that runs for weeks would otherwise
// keep in memory. Two separate bundles, not shared chunks: every command stays one file to load.
import { build } from "esbuild";

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
};
// commander is CommonJS: give its require() calls something to call in an ES module. The daemon
// has no CommonJS in it.
const commonJsRequire = { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' };
await build({ ...common, entryPoints: ["src/cli/main.ts"], outfile: "dist/cli.js", banner: commonJsRequire });
// The daemon's bundle is minified: its source stays in V8's heap for as long as the daemon runs
// (lazy compilation reads it again), and short names keep V8's string table at half the size:
// 0.4 MiB less idle memory (docs/benchmarks.md, ninth pass). The build is deterministic, so a
// stack trace from a user's log is read with the map of the same commit's build:
// `node scripts/bundle-cli.mjs --sourcemap` writes dist/daemon.js.map (not shipped: 600 KB).
const sourcemap = process.argv.includes("--sourcemap") ? "external" : false;
await build({ ...common, entryPoints: ["src/cli/daemon-entry.ts"], outfile: "dist/daemon.js", minify: true, lineLimit: 160, sourcemap });
