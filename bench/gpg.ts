/**
 * bench/gpg.ts: `gpg --sign` of a small file through the daemon's stable gpg socket vs the same
 * through the raw forwarded socket; how long a zombie forward (accepts, never greets) costs the
 * first request; how soon a dead forward (nobody listens) is removed. Run as any user with gpg:
 *   npm run build && node --import tsx bench/gpg.ts [rounds] [per round]
 *   SSH_ANCHOR_BENCH_BEFORE=/path/to/other/checkout/bin/ssh-anchor ... (adds that build's daemon)
 * The "forwarded" socket is a relay (socat, as sshd's forward is a relay) to a throwaway
 * gpg-agent's extra socket; the daemon runs with a temporary HOME. Beside raw and stable, the
 * naive Node relay (bench/naive-proxy.mjs: accept, connect, pipe) in front of the same forwarded
 * socket: the floor of any relay in a separate Node process. The paths take turns in rounds;
 * each round's median is divided by the raw path's in the same round (noise on a shared
 * machine hits adjacent batches alike): medians and quartiles of those ratios.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const rounds = Number(process.argv[2] ?? 20);
const perRound = Number(process.argv[3] ?? 5);
const base = mkdtempSync(join(tmpdir(), "anchor-gpg-bench-"));
const children: ChildProcess[] = [];
const sh = (cmd: string, env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync("sh", ["-c", cmd], { env: { ...process.env, ...env }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: readonly number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] as number;
const median = (xs: readonly number[]) => quantile(xs, 0.5);

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
  const naive = join(base, "naive.sock");
  children.push(spawn(process.execPath, [new URL("./naive-proxy.mjs", import.meta.url).pathname, naive, forwarded], { stdio: "ignore" }));
  const paths: [string, string][] = [];
  const before = process.env.SSH_ANCHOR_BENCH_BEFORE;
  let beforeStable = "";
  if (before) {
    // Its own HOME and forward (a second socat relay to the same gpg-agent), so the two daemons
    // never share a directory.
    const home2 = join(base, "home2");
    const forwards2 = join(home2, ".ssh", "anchor-forwards");
    mkdirSync(forwards2, { recursive: true, mode: 0o700 });
    const forwarded2 = join(forwards2, "gpg.bench1.sock");
    children.push(spawn("socat", [`UNIX-LISTEN:${forwarded2},fork`, `UNIX-CONNECT:${extra}`], { stdio: "ignore" }));
    children.push(spawn(before, ["run", "--socket", join(base, "d2", "agent.sock")], { env: { ...process.env, HOME: home2, GNUPGHOME: join(base, "unused2") }, stdio: "ignore" }));
    beforeStable = join(base, "d2", "gpg.sock");
    for (let i = 0; i < 100 && !(existsSync(beforeStable) && existsSync(forwarded2)); i++) await sleep(100);
  }
  for (let i = 0; i < 100 && !(existsSync(stable) && existsSync(forwarded) && existsSync(naive)); i++) await sleep(100);
  const pub = sh("gpg --armor --export bench@example.invalid", L);
  const sockets = new Map<string, string>();
  const remote = (name: string, target: string) => {
    sockets.set(name, target);
    const dir = join(base, `client${paths.length}`);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "pub.asc"), pub);
    // No agent is needed to import: --no-autostart.
    sh(`gpg --batch --no-autostart --import ${join(dir, "pub.asc")} 2>/dev/null || true`, { GNUPGHOME: dir });
    writeFileSync(sh("gpgconf --list-dirs agent-socket", { GNUPGHOME: dir }), `%Assuan%\nsocket=${target}\n`);
    paths.push([name, dir]);
    return dir;
  };
  remote("raw", forwarded);
  const anchored = remote("stable", stable);
  remote("naive relay", naive);
  if (before) remote("stable (before)", beforeStable);
  writeFileSync(join(base, "small.txt"), "hello\n");
  const signOnce = (gnupghome: string) => {
    const t = performance.now();
    sh(`gpg --batch --yes -u bench@example.invalid -o ${join(base, "small.sig")} --sign ${join(base, "small.txt")}`, { GNUPGHOME: gnupghome });
    return performance.now() - t;
  };
  for (const [, dir] of paths) signOnce(dir);
  const all = new Map(paths.map(([name]) => [name, [] as number[]]));
  const roundMedians = new Map(paths.map(([name]) => [name, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < paths.length; i++) {
      const [name, dir] = paths[(round + i) % paths.length] as [string, string];
      const times: number[] = [];
      for (let k = 0; k < perRound; k++) times.push(signOnce(dir));
      all.get(name)?.push(...times);
      roundMedians.get(name)?.push(median(times));
    }
  }
  const raws = roundMedians.get("raw") as number[];
  console.log(`gpg --sign, ${rounds} rounds of ${perRound}: median ms (quartiles); per-round ratio to raw, median (quartiles)`);
  for (const [name] of paths) {
    const xs = all.get(name) as number[];
    const ratios = (roundMedians.get(name) as number[]).map((m, i) => m / (raws[i] as number));
    const f = (x: number, d: number) => x.toFixed(d);
    console.log(
      `  ${name.padEnd(16)} ${f(median(xs), 2)} ms (${f(quantile(xs, 0.25), 2)}..${f(quantile(xs, 0.75), 2)})   ` +
        `${f(median(ratios), 3)} (${f(quantile(ratios, 0.25), 3)}..${f(quantile(ratios, 0.75), 3)})`,
    );
  }
  // The same conversation without gpg's process start (most of a --sign's time): 12 commands,
  // written as gpg writes them, by a Python client (bench/assuan-session.py).
  {
    const script = new URL("./assuan-session.py", import.meta.url).pathname;
    const names = [...sockets.keys()];
    const out = JSON.parse(sh(`python3 ${script} ${rounds} ${perRound * 4} ${names.map((n) => `'${sockets.get(n)}'`).join(" ")}`)) as Record<string, number[]>;
    const rawRounds = out[sockets.get("raw") as string] as number[];
    console.log(`a 12-command Assuan session (no gpg process), ${rounds} rounds of ${perRound * 4}: round medians, ms (quartiles); ratio to raw`);
    for (const name of names) {
      const xs = out[sockets.get(name) as string] as number[];
      const ratios = xs.map((x, i) => x / (rawRounds[i] as number));
      const f = (x: number, d: number) => x.toFixed(d);
      console.log(
        `  ${name.padEnd(16)} ${f(median(xs), 3)} ms (${f(quantile(xs, 0.25), 3)}..${f(quantile(xs, 0.75), 3)})   ` +
          `${f(median(ratios), 3)} (${f(quantile(ratios, 0.25), 3)}..${f(quantile(ratios, 0.75), 3)})`,
      );
    }
  }

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
