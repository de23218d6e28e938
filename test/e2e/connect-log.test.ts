import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeAttacker, type Attacker } from "../helpers/attacker.js";
import { Cleanup, requireRoot, run } from "../helpers/process.js";
import { startTestHost, type TestHost } from "../helpers/sshd.js";

const skip = requireRoot();

/**
 * connect's --log in a directory another user can write (/tmp): the attacker plants the name
 * first, as a symlink to a file of the victim's, or as a world-writable file of their own. connect
 * must write nothing through the link, nothing into the attacker's file, and say so in one line
 * before ssh runs (issue 18, item 9).
 */
describe("connect --log refuses a path another user planted", { skip }, () => {
  const cleanup = new Cleanup();
  let host: TestHost;
  let attacker: Attacker;
  const dir = "/tmp/anchor-connect-log-e2e";
  before(async () => {
    host = await startTestHost(cleanup);
    attacker = await makeAttacker(cleanup);
    await run("rm", ["-rf", dir]);
    cleanup.add(() => run("rm", ["-rf", dir]));
    assert.equal((await attacker.run(`mkdir -m 1777 ${dir}`)).code, 0);
  });
  after(() => cleanup.run());

  /** connect as the victim, to a closed port: the log is checked before ssh runs. */
  const connect = (log: string) => {
    const closed = host.sshOptions.map((option) => (option === String(host.port) ? "1" : option));
    return host.anchor(`connect --log ${log} ${closed.join(" ")} -- echo reached-the-host`);
  };

  const oneLine = (result: Awaited<ReturnType<TestHost["anchor"]>>, pattern: RegExp) => {
    assert.equal(result.code, 2, `exit status 2 (a usage error)\n${result.stdout}${result.stderr}`);
    assert.doesNotMatch(result.stdout, /reached-the-host/, "ssh never ran");
    const lines = result.stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, `one line:\n${result.stderr}`);
    assert.match(lines[0] as string, pattern);
  };

  it("a symlink to the victim's own file: refused, and the file is untouched", async () => {
    assert.equal((await host.asUser("echo precious > ~/precious && chmod 600 ~/precious")).code, 0);
    cleanup.add(() => host.asUser("rm -f ~/precious"));
    assert.equal((await attacker.run(`ln -s ${host.home}/precious ${dir}/victim.log`)).code, 0);
    oneLine(await connect(`${dir}/victim.log`), /^ssh-anchor: cannot write the log \/tmp\/anchor-connect-log-e2e\/victim\.log: it is a symbolic link/);
    assert.equal((await host.asUser("cat ~/precious")).stdout, "precious\n", "nothing written through the link");
  });

  it("a symlink to a name that does not exist yet: refused, nothing created", async () => {
    assert.equal((await attacker.run(`ln -s ${host.home}/created-by-link ${dir}/dangling.log`)).code, 0);
    oneLine(await connect(`${dir}/dangling.log`), /it is a symbolic link/);
    assert.notEqual((await host.asUser("test -e ~/created-by-link")).code, 0, "no file made through the link");
  });

  it("a world-writable file of the attacker's: refused by its owner, nothing written", async () => {
    assert.equal((await attacker.run(`: > ${dir}/theirs.log && chmod 666 ${dir}/theirs.log`)).code, 0);
    oneLine(await connect(`${dir}/theirs.log`), new RegExp(`it belongs to uid ${attacker.uid}, not to you`));
    assert.equal((await run("stat", ["-c", "%s", `${dir}/theirs.log`])).stdout.trim(), "0", "nothing written into the attacker's file");
  });

  it("the user's own file is still appended to", async () => {
    assert.equal((await host.asUser(`echo earlier > ${dir}/own.log`)).code, 0);
    const result = await connect(`${dir}/own.log`);
    assert.equal(result.code, 255, `ssh's status: the port is closed\n${result.stderr}`);
    const text = (await host.asUser(`cat ${dir}/own.log`)).stdout;
    assert.match(text, /^earlier\n/);
    assert.match(text, /attempt 1: ssh /);
  });
});
