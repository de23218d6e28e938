import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { explainAll, section, waitFor } from "./process.js";
import type { TestHost } from "./sshd.js";

/** The test user's tmux server. */
export const TMUX = "tmux -L anchor-e2e";

/** What a pane printed for one command: its exit status, duration, and the screen. */
export interface PaneResult {
  rc: number;
  ms: number;
  screen: string;
}

/** The shell line that runs `command` and reports `<marker> rc=<status> ms=<duration>`. */
function timed(marker: string, command: string): string {
  return `s=$(date +%s%N); ${command}; echo "${marker} rc=$? ms=$(( ($(date +%s%N) - s) / 1000000 ))"`;
}

function parse(marker: string, screen: string): PaneResult | undefined {
  const match = new RegExp(`${marker} rc=(\\d+) ms=(\\d+)`).exec(screen);
  return match ? { rc: Number(match[1]), ms: Number(match[2]), screen } : undefined;
}

/** Types a command into an existing tmux pane, as the user would, and reads the screen. */
export async function inTmux(host: TestHost, session: string, marker: string, command: string): Promise<PaneResult> {
  const line = timed(marker, command).replaceAll("'", `'"'"'`);
  const sent = await host.asUser(`${TMUX} send-keys -t ${session} -l '${line}' && ${TMUX} send-keys -t ${session} Enter`);
  assert.equal(sent.code, 0, sent.stderr);
  let screen = "";
  return waitFor(`"${marker}" in tmux session ${session}`, async () => {
    const capture = await host.asUser(`${TMUX} capture-pane -p -J -S -200 -t ${session}`);
    screen = capture.stdout + capture.stderr;
    return parse(marker, capture.stdout);
  }, { timeoutMs: 20_000, intervalMs: 100, explain: explainAll(() => section(`tmux session ${session}'s pane (last capture)`, screen), host.explain) });
}

/** The same in a GNU screen window: `stuff` types, `hardcopy` reads the screen. */
export async function inScreen(host: TestHost, session: string, marker: string, command: string): Promise<PaneResult> {
  const line = `${timed(marker, command)}\n`.replaceAll("'", `'"'"'`);
  const sent = await host.asUser(`screen -S ${session} -X stuff '${line}'`);
  assert.equal(sent.code, 0, sent.stderr);
  const copy = join(host.home, `${session}.hardcopy`);
  let screen = "";
  return waitFor(`"${marker}" in screen session ${session}`, async () => {
    const copied = await host.asUser(`screen -S ${session} -X hardcopy ${copy}`);
    screen = (await readFile(copy, "utf8").catch(() => "")) + copied.stdout + copied.stderr;
    return parse(marker, screen);
  }, { timeoutMs: 20_000, intervalMs: 100, explain: explainAll(() => section(`screen session ${session}'s window (last hardcopy)`, screen), host.explain) });
}

