import { SHELLS } from "../../shared/core/shells.js";
import { initScript, scopedInitScript } from "../../features/shell/init.js";
import { printScript } from "../output.js";

/**
 * The single executable's entry point (Node's single executable applications): the same CLI as
 * bin/ssh-anchor + dist/cli.js, with Node, the code and the shell files in one file.
 */

// `init` for a known shell is answered at once, in the argument forms bin/ssh-anchor answers
// without Node, with the same bytes (the shell files embedded at build time, read through
// features/shell/init.ts, as `init` in the CLI reads them), before the rest of the CLI is loaded.
const args = process.argv.slice(2);
if (args[0] === "init") {
  const known = (shell: string | undefined): shell is string => shell !== undefined && (SHELLS as readonly string[]).includes(shell);
  if (args.length === 3 && args[1] === "--per-identity" && known(args[2])) {
    printScript(scopedInitScript(args[2]));
    process.exit(0);
  }
  const [link, shell] = args.length === 2 ? [false, args[1]] : args.length === 3 && args[1] === "--link" ? [true, args[2]] : [false, undefined];
  if (known(shell)) {
    printScript(initScript(shell, { link }));
    process.exit(0);
  }
}

// `start` runs the daemon as `<node> <daemon flags> <entry> run ...`; here node and the entry
// are both this executable, which takes the node-side words off before the CLI sees them (the
// daemon's V8 flags cannot be set once the executable runs: it keeps Node's defaults).
void import("../../shared/control/lifecycle.js").then(async ({ DAEMON_NODE_FLAGS }) => {
  let skip = 0;
  while (DAEMON_NODE_FLAGS.includes(args[skip] as string)) skip += 1;
  if (skip > 0 && args[skip] === process.execPath) process.argv.splice(2, skip + 1);
  // `run`: the daemon without commander and the commands evaluated (the bundle holds them all,
  // but a module imported this way is evaluated only when imported: src/cli/daemon-main.ts).
  if (process.argv[2] === "run") {
    const [{ runDaemonEntry }, { packageVersion }] = await Promise.all([import("../daemon-main.js"), import("../../shared/core/package-root.js")]);
    await runDaemonEntry(process.argv.slice(2), packageVersion, () => import("../main.js"));
  } else {
    await import("../main.js");
  }
});
