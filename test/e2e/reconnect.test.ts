import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Cleanup, requireRoot } from "../helpers/process.js";
import { inScreen, inTmux, TMUX, type PaneResult } from "../helpers/panes.js";
import { stableDirectory, startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

describe("end to end: sshd, ssh -A, tmux and screen (seed 003)", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  before(async () => {
    host = await startTestHost(cleanup);
  });
  after(() => cleanup.run());

  const keyListed = (result: PaneResult) => {
    assert.equal(result.rc, 0, result.screen);
    assert.match(result.screen, new RegExp(`${host.keyComment} \\(ED25519\\)`));
  };

  it("an old tmux pane keeps its agent after logging out and in again, and can sign a new ssh login", async () => {
    const created = await host.ssh(`${TMUX} new -d -s seed`);
    assert.equal(created.code, 0, created.stderr);
    // That login is over: its forwarded socket is gone. The seed's failure, for the record:
    const raw = await inTmux(host, "seed", "RAW", 'SSH_AUTH_SOCK="$SSH_ANCHOR_ORIGINAL_SOCK" ssh-add -l');
    assert.equal(raw.rc, 2, raw.screen);
    assert.match(raw.screen, /Error connecting to agent: No such file or directory/);
    // A new login arrives; the old pane, untouched, works through the stable socket.
    const second = await host.login();
    keyListed(await inTmux(host, "seed", "LIST", "ssh-add -l"));
    const hop = await inTmux(host, "seed", "HOP", `ssh ${host.sshOptions.filter((o) => o !== "-A").join(" ")} echo signed-via-anchor`);
    assert.equal(hop.rc, 0, hop.screen);
    assert.match(hop.screen, /^signed-via-anchor$/m);
    const env = await inTmux(host, "seed", "ENV", 'echo "sock=$SSH_AUTH_SOCK"');
    assert.match(env.screen, new RegExp(`sock=${stableDirectory(host.home)}/agent.sock`));
    await second.end();
  });

  it("keeps working when the newer of two overlapping logins ends first", async () => {
    const older = await host.login();
    const newer = await host.login();
    assert.equal((await host.ssh(`${TMUX} new -d -s overlap`)).code, 0);
    await newer.end();
    keyListed(await inTmux(host, "overlap", "OVERLAP", "ssh-add -l"));
    await older.end();
  });

  it("does not hang on a zombie login (the laptop slept) that is newer than the live one", async () => {
    const live = await host.login();
    const sleeper = await host.login();
    assert.equal((await host.ssh(`${TMUX} new -d -s zombie`)).code, 0);
    sleeper.freeze();
    const result = await inTmux(host, "zombie", "ZOMBIE", "ssh-add -l");
    keyListed(result);
    assert.ok(result.ms < 6000, `ssh-add -l took ${result.ms} ms next to a zombie`);
    const again = await inTmux(host, "zombie", "AGAIN", "ssh-add -l");
    keyListed(again);
    assert.ok(again.ms < 1500, `the zombie must be avoided afterwards (took ${again.ms} ms)`);
    const status = JSON.parse((await host.anchor("status --json")).stdout);
    assert.ok(status.connections.failovers >= 1, "the first request must have been moved off the zombie");
    assert.equal(status.agents.find((a: { path: string }) => a.path === sleeper.forwardedSocket)?.state, "zombie");
    sleeper.thaw();
    await sleeper.end();
    await live.end();
  });

  it("works the same in GNU screen", async () => {
    const created = await host.ssh("screen -dmS anchored");
    assert.equal(created.code, 0, created.stderr);
    const login = await host.login();
    keyListed(await inScreen(host, "anchored", "SCREEN", "ssh-add -l"));
    await login.end();
  });

  it("fails fast when every login has ended, and works again after a new login with no user action", async () => {
    assert.equal((await host.ssh(`${TMUX} new -d -s gone`)).code, 0);
    const none = await inTmux(host, "gone", "NONE", "ssh-add -l");
    assert.equal(none.rc, 1, none.screen);
    assert.match(none.screen, /The agent has no identities/);
    assert.ok(none.ms < 2000, `took ${none.ms} ms`);
    const login = await host.login();
    keyListed(await inTmux(host, "gone", "BACK", "ssh-add -l"));
    await login.end();
  });
});
