import { readFileSync } from "node:fs";
import type { StatusReport } from "../../shared/control/status.js";

/**
 * The daemon's memory as `status` shows it, in KiB: private memory first (Linux: RssAnon), what
 * this daemon costs the machine; resident memory also counts the node binary's pages, shared
 * with every other node process. Elsewhere private memory is resident memory, and says so.
 *
 * @example
 * memoryKiB() // -> { private: 21504, privateSource: "RssAnon", rss: 48128, heapUsed: 6144, external: 1024 }
 */
export function memoryKiB(): StatusReport["memoryKiB"] {
  let usage: NodeJS.MemoryUsage;
  try {
    usage = process.memoryUsage();
  } catch {
    // Out of descriptors (it reads /proc/self/stat): status still answers.
    return { private: 0, privateSource: "rss", rss: 0, heapUsed: 0, external: 0 };
  }
  const kib = (bytes: number) => Math.round(bytes / 1024);
  let status = "";
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    // No /proc: resident memory is the best there is.
  }
  const anon = /^RssAnon:\s+(\d+) kB$/m.exec(status)?.[1];
  return {
    private: anon !== undefined ? Number(anon) : kib(usage.rss),
    privateSource: anon !== undefined ? "RssAnon" : "rss",
    rss: kib(usage.rss),
    heapUsed: kib(usage.heapUsed),
    external: kib(usage.external + usage.arrayBuffers),
  };
}
