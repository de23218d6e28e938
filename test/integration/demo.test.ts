import assert from "node:assert/strict";
import { chmod, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Cleanup, REPO, run, tempDir } from "../helpers/process.js";

/**
 * scripts/demo.sh as the README gives it: runnable by a user without root, it first shows the
 * failure (a pane holding a login's own socket after that login ends), then the same steps
 * through ssh-anchor, and leaves nothing behind, in /tmp or the home.
 */
describe("the demo", () => {
  const cleanup = new Cleanup();
  after(() => cleanup.run());

  it("shows the failure, then the same steps passing through ssh-anchor, as a user without root", async () => {
    const home = await tempDir();
    cleanup.add(() => run("rm", ["-rf", home]));
    await chmod(home, 0o777);
    const before = (await readdir("/tmp")).filter((name) => name.startsWith("ssh-anchor-demo."));
    const env = { PATH: "/usr/bin:/bin", HOME: home, NO_COLOR: "1" };
    const asUser = process.getuid?.() === 0 ? ["runuser", ["-u", "nobody", "--", "env", "-i", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "sh", join(REPO, "scripts", "demo.sh")]] as const : ["sh", [join(REPO, "scripts", "demo.sh")]] as const;
    const result = await run(asUser[0], asUser[1], { env: process.getuid?.() === 0 ? process.env : { ...process.env, ...env }, timeoutMs: 60_000 });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const [without, withAnchor] = result.stdout.split("THE SAME STEPS WITH ssh-anchor");
    assert.ok(withAnchor !== undefined, result.stdout);
    // Without: the pane's socket works during login 1, then fails once it ended.
    assert.match(without as string, /pane\$ ssh-add -l\n256 \S+ key-of-one \(ED25519\)/);
    assert.match(without as string, /pane\$ ssh-add -l\n(Error connecting to agent|.*Permission denied)/);
    // With: the same pane reaches login 2 after login 1 ended, the newest login while it lasts,
    // and a clean empty answer once none is left.
    const panes = [...(withAnchor as string).matchAll(/pane\$ ssh-add -l\n(.*)/g)].map((m) => m[1]);
    assert.deepEqual(panes.map((line) => /key-of-\w+|no identities/.exec(line ?? "")?.[0]), ["key-of-first", "key-of-second", "key-of-third", "key-of-second", "no identities"], withAnchor);
    assert.doesNotMatch(withAnchor as string, /Error connecting to agent/);
    const left = (await readdir("/tmp")).filter((name) => name.startsWith("ssh-anchor-demo.") && !before.includes(name));
    assert.deepEqual(left, [], "the sandbox is removed");
    assert.deepEqual(await readdir(home), [], "the user's real home is not touched");
  });
});
