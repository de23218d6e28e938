import { readdir, readFile } from "node:fs/promises";

/** Private (anonymous) resident memory and proportional set size of a process, in KiB. */
export async function memoryOf(pid: number): Promise<{ rssAnonKiB: number; pssKiB: number; rssKiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
  const field = (text: string, name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rssAnonKiB: field(status, "RssAnon"), pssKiB: field(rollup, "Pss"), rssKiB: field(status, "VmRSS") };
}

/** Number of open file descriptors of a process. */
export async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}
