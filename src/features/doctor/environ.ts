import { readFile } from "node:fs/promises";

/**
 * One variable from a process's environment as it was when the process started (Linux
 * /proc/PID/environ). undefined when unset; null when it cannot be read (another user's
 * process, no /proc).
 */
export async function environmentVariable(pid: number, name: string): Promise<string | undefined | null> {
  let environ: string;
  try {
    environ = await readFile(`/proc/${pid}/environ`, "utf8");
  } catch {
    return null;
  }
  const prefix = `${name}=`;
  for (const entry of environ.split("\0")) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}

/** Direct children of a process (Linux). */
export async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.split(/\s+/).filter(Boolean).map(Number);
}
