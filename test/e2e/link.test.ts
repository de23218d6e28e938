import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { inTmux, TMUX, type PaneResult } from "../helpers/panes.js";
import { Cleanup, requireRoot, sleep, waitFor } from "../helpers/process.js";
import { stableDirectory, startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/** Link mode (no daemon) through a private sshd, ssh -A and tmux: the seed 003 steps. */
describe("end to end: link mode", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  before(async () => {
    host = await startTestHost(cleanup, { rcLine: 'eval "$(ssh-anchor init --link bash)"' });
  });
  after(() => cleanup.run());

  const linkTarget = async () => (await host.asUser(`readlink ${stableDirectory(host.home)}/link.sock`)).stdout.trim();

  /** Waits until the link points at `socket` (a prompt hook pointed it there), and for the
   * prompt after that hook to be drawn. */
  const linkPointedAt = async (socket: string) => {
    await waitFor(`the link to point at ${socket}`, async () => (await linkTarget()) === socket, 5000);
    await sleep(300);
  };

  const keyListed = (result: PaneResult) => {
    assert.equal(result.rc, 0, result.screen);
    assert.match(result.screen, new RegExp(`${host.keyComment} \\(ED25519\\)`));
  };

  it("an old pane keeps its agent after logging out and in again, with no daemon", async () => {
    assert.equal((await host.ssh(`${TMUX} new -d -s seed`)).code, 0);
    const second = await host.login();
    keyListed(await inTmux(host, "seed", "LIST", "ssh-add -l"));
    const env = await inTmux(host, "seed", "ENV", 'echo "sock=$SSH_AUTH_SOCK"');
    assert.match(env.screen, new RegExp(`sock=${stableDirectory(host.home)}/link.sock`));
    assert.equal((await host.asUser("pgrep -u $(id -u) -f '^ssh-anchor run'")).code, 1, "link mode runs no daemon");
    await second.end();
  });

  it("repairs the link at the next prompt when the newer of two logins ends first", async () => {
    const older = await host.login();
    const newer = await host.login();
    assert.equal((await host.ssh(`${TMUX} new -d -s overlap`)).code, 0);
    await newer.end();
    // The link dangles now; the next prompt repairs it (a fresh prompt, as a user sees on return).
    assert.equal((await host.asUser(`${TMUX} send-keys -t overlap Enter`)).code, 0);
    keyListed(await inTmux(host, "overlap", "OVERLAP", "ssh-add -l"));
    assert.equal(await linkTarget(), older.forwardedSocket);
    await older.end();
  });

  it("repairs the link before a command typed at an old prompt (bash's PS0)", async () => {
    const older = await host.login();
    const newer = await host.login();
    assert.equal((await host.ssh(`${TMUX} new -d -s typed`)).code, 0);
    // The pane shows its prompt while the newer login still lives, and the link points at it.
    keyListed(await inTmux(host, "typed", "READY", "ssh-add -l"));
    await linkPointedAt(newer.forwardedSocket);
    await newer.end();
    // No fresh prompt this time: the command goes to the prompt shown before the login ended.
    keyListed(await inTmux(host, "typed", "TYPED", "ssh-add -l"));
    assert.equal(await linkTarget(), older.forwardedSocket);
    await older.end();
  });

  it("does the same in fish (fish_preexec)", async () => {
    const config = `${host.home}/.config/fish`;
    const written = await host.asUser(`mkdir -p ${config} && echo 'ssh-anchor init --link fish | source' > ${config}/config.fish`);
    assert.equal(written.code, 0, written.stderr);
    const older = await host.login();
    const newer = await host.login();
    assert.equal((await host.ssh(`${TMUX} new -d -s fishy fish`)).code, 0);
    const inFish = async (marker: string) => {
      const sent = await host.asUser(`${TMUX} send-keys -t fishy -l 'ssh-add -l; echo ${marker} rc=$status' && ${TMUX} send-keys -t fishy Enter`);
      assert.equal(sent.code, 0, sent.stderr);
      return waitFor(`${marker} in the fish pane`, async () => {
        const screen = (await host.asUser(`${TMUX} capture-pane -p -J -t fishy`)).stdout;
        const match = new RegExp(`^${marker} rc=(\\d+)`, "m").exec(screen);
        return match ? { rc: Number(match[1]), screen } : undefined;
      }, 20_000, 100);
    };
    assert.equal((await inFish("FISHREADY")).rc, 0);
    await linkPointedAt(newer.forwardedSocket);
    await newer.end();
    const typed = await inFish("FISHTYPED");
    assert.equal(typed.rc, 0, typed.screen);
    assert.match(typed.screen, new RegExp(`${host.keyComment} \\(ED25519\\)`));
    await older.end();
    await host.asUser(`rm -rf ${config}`);
  });
});
