import { join } from "node:path";
import { createInterface } from "node:readline";
import type { ChildProcess } from "node:child_process";
import { Cleanup, REPO, spawnTracked, waitFor } from "./process.js";

export type ActivatorEvent = { kind: "listening" } | { kind: "started"; pid: number } | { kind: "exited"; pid: number; status: number };

/** systemd's part in socket activation, played by test/helpers/socket-activator.py. */
export interface Activator {
  readonly events: readonly ActivatorEvent[];
  /** Resolves with the n-th event of this kind (1-based), waiting at most `timeoutMs`. */
  nth<K extends ActivatorEvent["kind"]>(kind: K, n: number, timeoutMs?: number): Promise<Extract<ActivatorEvent, { kind: K }>>;
  count(kind: ActivatorEvent["kind"]): number;
  /** Stops the service and the activator, which removes the socket. */
  stop(): Promise<void>;
}

/**
 * Holds a listening socket at `socket` and starts `command` on fd 3 (LISTEN_FDS/LISTEN_PID)
 * whenever a client waits on it while no service runs, as a systemd .socket unit does.
 */
export async function startActivator(cleanup: Cleanup, socket: string, command: readonly string[], env: NodeJS.ProcessEnv): Promise<Activator> {
  const child = spawnTracked(cleanup, "python3", [join(REPO, "test", "helpers", "socket-activator.py"), socket, ...command], env);
  const activator = followActivator(child);
  cleanup.add(() => activator.stop());
  await activator.nth("listening", 1, 5000);
  return activator;
}

/**
 * An activator process as the tests see it: the events it reports on stdout, a wait for the
 * n-th of a kind (naming every event so far when it times out), and a bounded stop.
 */
export function followActivator(child: ChildProcess): Activator {
  const events: ActivatorEvent[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const [kind, pid, status] = line.split(" ");
    if (kind === "listening") events.push({ kind });
    else if (kind === "started") events.push({ kind, pid: Number(pid) });
    else if (kind === "exited") events.push({ kind, pid: Number(pid), status: Number(status) });
  });
  return {
    events,
    count: (kind) => events.filter((event) => event.kind === kind).length,
    nth: (kind, n, timeoutMs = 10_000) =>
      waitFor(`activator event ${kind} #${n} (events: ${JSON.stringify(events)})`, () => events.filter((event) => event.kind === kind)[n - 1], timeoutMs) as never,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 8000))]);
    },
  };
}
