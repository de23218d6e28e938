import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BIN, run } from "../../test/helpers/process.js";
import { SHELL_RUNS } from "./settings.js";
import type { Bench, Target } from "./targets.js";

function timeShell(home: string, env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const result = spawnSync("bash", ["-i", "-c", "exit"], { env: { ...env, HOME: home }, stdio: "ignore" });
  if (result.status !== 0) throw new Error("bash -i failed");
  return (performance.now() - started) * 1000;
}

/** Start-up times (µs) of bash -i without ssh-anchor, with the eval'd init line, and with it sourced. */
export type ShellStartup = Record<"none" | "eval" | "sourced", number[]>;

/** Step 6: what the init line costs every interactive shell, with the daemon running. */
export async function measureShellStartup({ base }: Bench, anchor: Target): Promise<ShellStartup> {
  const shellEnv = { ...process.env, PATH: `${join(fileURLToPath(new URL("../..", import.meta.url)), "bin")}:${process.env.PATH}`, SSH_ANCHOR_SOCKET: anchor.path };
  const homes = { none: join(base, "sh-none"), eval: join(base, "sh-eval"), sourced: join(base, "sh-sourced") };
  for (const dir of Object.values(homes)) await mkdir(dir);
  await writeFile(join(homes.none, ".bashrc"), "");
  await writeFile(join(homes.eval, ".bashrc"), 'eval "$(ssh-anchor init bash)"\n');
  await writeFile(join(homes.sourced, ".ssh-anchor.sh"), (await run(BIN, ["init", "bash"])).stdout);
  await writeFile(join(homes.sourced, ".bashrc"), ". ~/.ssh-anchor.sh\n");
  const shells: ShellStartup = { none: [], eval: [], sourced: [] };
  for (let i = 0; i < SHELL_RUNS; i++) {
    for (const variant of ["none", "eval", "sourced"] as const) shells[variant].push(timeShell(homes[variant], shellEnv));
  }
  return shells;
}
