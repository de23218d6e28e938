import assert from "node:assert/strict";
import type { TestNetwork } from "./netns.js";
import { Cleanup, run, waitFor } from "./process.js";

/**
 * A local tmux in the laptop's namespace, its one pane a plain shell where the test types
 * `ssh-anchor connect ...` as a user would, and reads the screen.
 */
export class LaptopTerminal {
  readonly socketName = `anchor-laptop-${process.pid}`;
  #count = 0;
  constructor(
    private readonly network: TestNetwork,
    private readonly cleanup: Cleanup,
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

  waitForScreen(pane: string, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpExecArray> {
    return waitFor(what, async () => pattern.exec(await this.screen(pane)), timeoutMs, 100);
  }
}

