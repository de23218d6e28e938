// Bundles the command line into one file, dist/cli.js: one module to load instead of thirty
// keeps both start-up time and the daemon's resident memory down, and leaves no runtime
// dependencies to install. The library (dist/index.js) is built by tsc, module by module.
import { build } from "esbuild";

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/cli.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  // commander is CommonJS: give its require() calls something to call in an ES module.
  banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
});
