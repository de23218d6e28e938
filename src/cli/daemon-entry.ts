import { packageVersion } from "../shared/core/package-root.js";
import { runDaemonEntry } from "./daemon-main.js";

/**
 * dist/daemon.js: `ssh-anchor run` in a bundle of its own (src/cli/daemon-main.ts says why).
 * Anything but `run` in plain forms is handed to dist/cli.js, the whole command line, found
 * beside this file at run time (not bundled in here: that is the point).
 */
void runDaemonEntry(process.argv.slice(2), packageVersion, () => import(new URL("./cli.js", import.meta.url).href));
