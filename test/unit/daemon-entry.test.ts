import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { registerDaemonCommands } from "../../src/cli/commands/daemon.js";
import { parseRunArgs, type RunFlags } from "../../src/cli/daemon-main.js";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../../src/shared/control/lifecycle.js";
import { REPO, run } from "../helpers/process.js";

/** What the whole command line (commander) reads from `run ARGS`, or the error it stops with. */
async function commanderReads(args: readonly string[]): Promise<RunFlags | "error"> {
  const program = new Command("ssh-anchor").exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerDaemonCommands(program, "0");
  let read: RunFlags | undefined;
  const runCommand = program.commands.find((c) => c.name() === "run") as Command;
  runCommand.exitOverride().action((flags: RunFlags) => {
    read = { ...flags };
  });
  try {
    await program.parseAsync(["run", ...args], { from: "user" });
  } catch {
    return "error";
  }
  return read ?? "error";
}

describe("the daemon's own entry point (dist/daemon.js)", () => {
  it("reads `run`'s words as commander does, and leaves anything else to the whole command line", async () => {
    const plain = [
      [],
      ["--socket", "/s/agent.sock"],
      ["--socket=/s/agent.sock", "-v"],
      ["-s", "/s/agent.sock", "--verbose"],
      ["-s/s/agent.sock"],
      ["-a", "/a", "--agent-dir", "/b", "-a/c", "--agent-dir=/d"],
      ["--tmp-dir", "/t", "--log-file", "/l", "--reply-timeout", "100", "--probe-timeout=50", "--max-wait", "7", "--idle-exit", "30"],
      ["--socket", "/one", "--socket", "/two"],
    ];
    for (const args of plain) {
      assert.deepEqual(parseRunArgs(args), await commanderReads(args), `run ${args.join(" ")}`);
    }
    const others = [["--help"], ["-h"], ["--socket"], ["--socket", "-v"], ["--reply-timeout", "0"], ["--max-wait=x"], ["--nope"], ["extra"], ["-vs", "/s"], ["--verbose=1"], ["--"]];
    for (const args of others) assert.equal(parseRunArgs(args), undefined, `run ${args.join(" ")}`);
  });

  it("is built, and hands --help and usage errors to dist/cli.js, which answers them as before", async () => {
    const entry = join(REPO, "dist", "daemon.js");
    assert.ok(existsSync(entry), "npm run build makes dist/daemon.js");
    const help = await run(process.execPath, [entry, "run", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: ssh-anchor run \[options\]/);
    const wrong = await run(process.execPath, [entry, "run", "--reply-timeout", "0"]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /--reply-timeout/);
    const notRun = await run(process.execPath, [entry, "--version"]);
    assert.equal(notRun.code, 0);
    assert.match(notRun.stdout, /^\d+\.\d+\.\d+/);
  });

  it("is started by bin/ssh-anchor's `run` with the settings `start` and the service units use", () => {
    const launcher = readFileSync(join(REPO, "bin", "ssh-anchor"), "utf8");
    const environment = Object.entries(DAEMON_ENV).map(([name, value]) => `${name}=${value}`);
    const line = [...environment, "exec node", ...DAEMON_NODE_FLAGS, '"$root/dist/daemon.js" "$@"'].join(" ");
    assert.ok(launcher.includes(`\n  ${line}\n`), `bin/ssh-anchor runs the daemon as: ${line}`);
  });
});
