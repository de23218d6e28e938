import assert from "node:assert/strict";
import type { TestNetwork } from "./netns.js";
import { Cleanup, explainAll, run, section, waitFor, type Explain, type WaitOptions } from "./process.js";

/**
 * A local tmux in the laptop's namespace, its one pane a plain shell where the test types
 * `ssh-anchor connect ...` as a user would, and reads the screen.
 */
export class LaptopTerminal {
  readonly socketName = `anchor-laptop-${process.pid}`;
  #count = 0;
  /**
   * @param explain what else to show when a wait on a pane times out (the remote host's
   * processes and logs); the pane's screen is always shown.
   */
  constructor(
    private readonly network: TestNetwork,
    private readonly cleanup: Cleanup,
    private readonly explain?: Explain,
  ) {}

  async open(env: Record<string, string>): Promise<string> {
    const name = `t${++this.#count}`;
    const exports = Object.entries(env).map(([key, value]) => `${key}=${value}`);
    const [command, ...args] = this.network.inClient("env", [
      ...exports, "PS1=laptop$ ", "tmux", "-L", this.socketName, "new", "-d", "-s", name, "-x", "160", "-y", "45", "bash --norc --noprofile",
    ]);
    const started = await run(command as string, args);
    assert.equal(started.code, 0, started.stderr);
    this.cleanup.add(() => run("tmux", ["-L", this.socketName, "kill-server"]));
    return name;
  }

  async type(pane: string, text: string, enter = true): Promise<void> {
    const sent = await run("tmux", ["-L", this.socketName, "send-keys", "-t", pane, "-l", text]);
    assert.equal(sent.code, 0, sent.stderr);
    if (enter) await run("tmux", ["-L", this.socketName, "send-keys", "-t", pane, "Enter"]);
  }

  async keys(pane: string, ...keys: string[]): Promise<void> {
    await run("tmux", ["-L", this.socketName, "send-keys", "-t", pane, ...keys]);
  }

  async screen(pane: string): Promise<string> {
    return (await run("tmux", ["-L", this.socketName, "capture-pane", "-p", "-J", "-t", pane])).stdout;
  }

  /** What a person needs when a wait on `pane` times out: its screen, then the remote side's state. */
  explainPane(pane: string, ...more: Explain[]): Explain {
    return explainAll(async () => section(`the laptop's terminal ${pane}`, await this.screen(pane)), ...more, this.explain);
  }

  /** Waits for `pattern` on the pane's screen; on timeout the error shows the screen and the remote state. */
  waitForScreen(pane: string, pattern: RegExp, what: string, timeout: number | WaitOptions = 20_000): Promise<RegExpExecArray> {
    const options = typeof timeout === "number" ? { timeoutMs: timeout } : timeout;
    return waitFor(what, async () => pattern.exec(await this.screen(pane)), {
      intervalMs: 100,
      ...options,
      explain: this.explainPane(pane, ...(options.explain ? [options.explain] : [])),
    });
  }
}

