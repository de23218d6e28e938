/**
 * bench/gpg.ts: `gpg --sign` of a small file through the daemon's stable gpg socket vs the same
 * through the raw forwarded socket; how long a zombie forward (accepts, never greets) costs the
 * first request; how soon a dead forward (nobody listens) is removed. Run as any user with gpg:
 *   npm run build && node --import tsx bench/gpg.ts [runs]
 * The "forwarded" socket is a relay (socat, as sshd's forward is a relay) to a throwaway
 * gpg-agent's extra socket; the daemon runs with a temporary HOME.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const runs = Number(process.argv[2] ?? 40);
const base = mkdtempSync(join(tmpdir(), "anchor-gpg-bench-"));
const children: ChildProcess[] = [];
const sh = (cmd: string, env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync("sh", ["-c", cmd], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

try {
  const laptop = join(base, "laptop");
  mkdirSync(laptop, { mode: 0o700 });
  writeFileSync(join(laptop, "gpg-agent.conf"), "allow-loopback-pinentry\n");
  const L = { GNUPGHOME: laptop };
  sh(`gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key 'Bench <bench@example.invalid>' ed25519 sign never`, L);
  const extra = sh("gpgconf --list-dirs agent-extra-socket", L);
  sh("gpg-connect-agent /bye", L);
  const home = join(base, "home");
  const forwards = join(home, ".ssh", "anchor-forwards");
  mkdirSync(forwards, { recursive: true, mode: 0o700 });
  const forwarded = join(forwards, "gpg.bench1.sock");
  children.push(spawn("socat", [`UNIX-LISTEN:${forwarded},fork`, `UNIX-CONNECT:${extra}`], { stdio: "ignore" }));
  const daemonDir = join(base, "d");
  children.push(spawn("bin/ssh-anchor", ["run", "--socket", join(daemonDir, "agent.sock")], { env: { ...process.env, HOME: home, GNUPGHOME: join(base, "unused") }, stdio: "ignore" }));
  const stable = join(daemonDir, "gpg.sock");
  for (let i = 0; i < 100 && !(existsSync(stable) && existsSync(forwarded)); i++) await sleep(100);
  const pub = sh("gpg --armor --export bench@example.invalid", L);
  const remote = (name: string, target: string) => {
    const dir = join(base, name);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "pub.asc"), pub);
    // No agent is needed to import: --no-autostart.
    sh(`gpg --batch --no-autostart --import ${join(dir, "pub.asc")} 2>/dev/null || true`, { GNUPGHOME: dir });
    writeFileSync(sh("gpgconf --list-dirs agent-socket", { GNUPGHOME: dir }), `%Assuan%\nsocket=${target}\n`);
    return dir;
  };
  const raw = remote("raw", forwarded);
  const anchored = remote("anchored", stable);
  writeFileSync(join(base, "small.txt"), "hello\n");
  const signOnce = (gnupghome: string) => {
    const t = performance.now();
    sh(`gpg --batch --yes -u bench@example.invalid -o ${join(base, "small.sig")} --sign ${join(base, "small.txt")}`, { GNUPGHOME: gnupghome });
    return performance.now() - t;
  };
  signOnce(raw);
  signOnce(anchored);
  const rawTimes: number[] = [];
  const stableTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    rawTimes.push(signOnce(raw));
    stableTimes.push(signOnce(anchored));
  }
  const r = median(rawTimes);
  const s = median(stableTimes);
  console.log(`gpg --sign, median of ${runs}: raw forwarded ${r.toFixed(1)} ms, stable ${s.toFixed(1)} ms, ratio ${(s / r).toFixed(3)}`);

  // A zombie: a newer forward that accepts connections and never greets (a sleeping laptop).
  const zombiePath = join(forwards, "gpg.zombie.sock");
  const zombie = createServer(() => undefined);
  await new Promise<void>((resolve) => zombie.listen(zombiePath, resolve));
  await sleep(300);
  const t0 = performance.now();
  sh("gpg-connect-agent 'GETINFO version' /bye", { GNUPGHOME: anchored });
  const first = performance.now() - t0;
  const t1 = performance.now();
  sh("gpg-connect-agent 'GETINFO version' /bye", { GNUPGHOME: anchored });
  const second = performance.now() - t1;
  console.log(`zombie newest: first request answered in ${first.toFixed(0)} ms (skip), the next in ${second.toFixed(0)} ms`);

  // A dead forward: its listener closes (the login ended); the file stays until the daemon removes it.
  const deadPath = join(forwards, "gpg.dead.sock");
  const relay = spawn("socat", [`UNIX-LISTEN:${deadPath},fork`, `UNIX-CONNECT:${extra}`], { stdio: "ignore" });
  while (!existsSync(deadPath)) await sleep(5);
  await sleep(500);
  // SIGKILL: the listener is gone and the file stays behind, as sshd's does when a login ends.
  relay.kill("SIGKILL");
  const ended = performance.now();
  while (existsSync(deadPath) && performance.now() - ended < 5000) await sleep(5);
  console.log(`dead forward removed ${(performance.now() - ended).toFixed(0)} ms after its listener died`);
  zombie.close();
} finally {
  for (const child of children) child.kill();
  spawnSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: join(base, "laptop") } });
  rmSync(base, { recursive: true, force: true });
}
