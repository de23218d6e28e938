import { chmod, chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureAccount, suiteAccountName } from "./accounts.js";
import { Cleanup, run, spawnTracked, tempDir, waitFor } from "./process.js";

/**
 * The second real local user the security tests play: someone else on a shared host. The
 * suite's own account, unique to the test process (`anchor-a-<pid>`), made by makeAttacker and
 * removed when the test ends; SSH_ANCHOR_TEST_ATTACKER names another (kept if it existed).
 */
export const ATTACKER = process.env.SSH_ANCHOR_TEST_ATTACKER ?? suiteAccountName("a");

/**
 * A fake agent of the attacker's: it accepts connections, answers like an agent with no keys,
 * and writes down every connection and every byte it receives. Anything in its log means a
 * victim's agent traffic (or keys) reached someone else.
 */
const FAKE_AGENT = `
import { appendFileSync, chmodSync, unlinkSync } from "node:fs";
import { createServer } from "node:net";
const [path, log] = process.argv.slice(2);
try { unlinkSync(path); } catch {}
const server = createServer((socket) => {
  appendFileSync(log, "connection\\n");
  socket.on("error", () => {});
  socket.on("data", (chunk) => {
    appendFileSync(log, chunk.toString("hex") + "\\n");
    // Enough of an agent to keep a client talking: no identities, success for the rest.
    socket.write(chunk[4] === 11 ? Buffer.from([0, 0, 0, 5, 12, 0, 0, 0, 0]) : Buffer.from([0, 0, 0, 1, 6]));
  });
});
server.listen(path, () => { chmodSync(path, 0o777); process.stdout.write("ready\\n"); });
`;

export interface FakeAgent {
  readonly path: string;
  /** Everything it received so far ("" when nothing reached it). */
  received(): Promise<string>;
}

export interface Attacker {
  readonly uid: number;
  readonly name: string;
  /** Runs a shell command as the attacker. */
  run(command: string): ReturnType<typeof run>;
  /** Starts a fake agent listening at `path` (its directory must be the attacker's). */
  fakeAgent(path: string): Promise<FakeAgent>;
  /** Starts a long-running process as the attacker. */
  spawn(command: string, args: readonly string[]): ReturnType<typeof spawnTracked>;
}

/** Creates the attacker's account (no home, no login), kills its processes on cleanup and removes it. */
export async function makeAttacker(cleanup: Cleanup): Promise<Attacker> {
  await ensureAccount(cleanup, ATTACKER, { home: false, shell: "/bin/sh" });
  const uid = Number((await run("id", ["-u", ATTACKER])).stdout.trim());
  const base = await tempDir("anchor-attacker-");
  await chmod(base, 0o755);
  const logs = join(base, "logs");
  await mkdir(logs, { mode: 0o755 });
  await chown(logs, uid, uid);
  const script = join(base, "fake-agent.mjs");
  await writeFile(script, FAKE_AGENT);
  await chmod(script, 0o644);
  const killAll = async () => {
    await run("pkill", ["-KILL", "-u", ATTACKER]);
    await run("rm", ["-rf", base]);
  };
  await run("pkill", ["-KILL", "-u", ATTACKER]);
  cleanup.add(killAll);
  const asAttacker = (command: string, args: readonly string[]): [string, string[]] => ["setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", command, ...args]];
  let agents = 0;
  return {
    uid,
    name: ATTACKER,
    run: (command) => run(...asAttacker("sh", ["-c", command]), { cwd: "/" }),
    spawn: (command, args) => spawnTracked(cleanup, ...asAttacker(command, args)),
    fakeAgent: async (path) => {
      agents += 1;
      const log = join(logs, `received-${agents}.log`);
      const child = spawnTracked(cleanup, ...asAttacker(process.execPath, [script, path, log]));
      let output = "";
      child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      let errors = "";
      child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
      await waitFor(`the attacker's fake agent at ${path}`, () => output.includes("ready"), {
        timeoutMs: 5000,
        explain: () => `--- the fake agent (exit ${child.exitCode ?? child.signalCode ?? "running"}):\n${output}${errors}\n`,
      });
      return { path, received: async () => (await readFile(log, "utf8").catch(() => "")) };
    },
  };
}
