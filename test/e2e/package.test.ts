import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Cleanup, REPO, run, tempDir } from "../helpers/process.js";

const { version } = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };

/** The tarball users install: packed from this checkout, installed globally, run both ways. */
describe("npm pack, npm install -g, and the installed command", () => {
  const cleanup = new Cleanup();
  let prefix: string;
  let base: string;
  let tarballPath: string;
  before(async () => {
    base = await tempDir();
    cleanup.add(() => run("rm", ["-rf", base]));
    const packed = await run("npm", ["pack", "--pack-destination", base], { cwd: REPO, timeoutMs: 120_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = (await readdir(base)).find((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error("npm pack produced no tarball");
    tarballPath = join(base, tarball);
    prefix = join(base, "prefix");
    // --offline: the tarball carries its one dependency, so it installs with nothing but Node.
    const installed = await run("npm", ["install", "-g", "--offline", "--prefix", prefix, join(base, tarball)], { timeoutMs: 120_000 });
    assert.equal(installed.code, 0, installed.stderr);
  });
  after(() => cleanup.run());

  it("runs by absolute path", async () => {
    const result = await run(join(prefix, "bin", "ssh-anchor"), ["--version"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), version);
  });

  it("runs from PATH, init included (through npm's symlink)", async () => {
    const env = { ...process.env, PATH: `${join(prefix, "bin")}:/usr/bin:/bin` };
    const init = await run("ssh-anchor", ["init", "bash"], { env });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /export SSH_AUTH_SOCK/);
    const socket = join(base, "sock", "agent.sock");
    const started = await run("ssh-anchor", ["start", "--socket", socket], { env });
    cleanup.add(() => run("ssh-anchor", ["stop", "--socket", socket], { env }));
    assert.equal(started.code, 0, started.stderr);
    const status = await run("ssh-anchor", ["status", "--json", "--socket", socket], { env });
    assert.equal(JSON.parse(status.stdout).version, version);
    assert.match((await run("ssh-anchor", ["stop", "--socket", socket], { env })).stdout, /stopped/);
  });

  it("has --help on every command", async () => {
    const bin = join(prefix, "bin", "ssh-anchor");
    for (const command of [[], ["run"], ["start"], ["stop"], ["status"], ["init"]]) {
      const help = await run(bin, [...command, "--help"]);
      assert.equal(help.code, 0, `${command.join(" ")} --help: ${help.stderr}`);
      assert.match(help.stdout, /^Usage: ssh-anchor/);
    }
  });

  it("holds only what users need: the launcher, the build, the shell files, the man page, the docs", async () => {
    const listed = await run("tar", ["-tzf", tarballPath]);
    assert.equal(listed.code, 0, listed.stderr);
    const top = new Set(listed.stdout.split("\n").filter(Boolean).map((path) => path.replace(/^package\//, "").split("/")[0]));
    // docs/: the README links to it, and doctor names its pages in fixes.
    assert.deepEqual([...top].sort(), ["CHANGELOG.md", "LICENSE", "README.md", "bin", "contrib", "dist", "docs", "man", "package.json", "shell"]);
    const sources = listed.stdout.split("\n").filter((path) => /\.test\.|\.ts$/.test(path) && !path.endsWith(".d.ts"));
    assert.deepEqual(sources, [], "no tests or TypeScript sources");
  });

  it("installs the man page generated from --help where man finds it", async () => {
    const page = await readFile(join(prefix, "share", "man", "man1", "ssh-anchor.1"), "utf8");
    assert.match(page, /^\.TH SSH\\-ANCHOR 1/);
    for (const command of ["run", "start", "status", "init", "connect", "doctor", "setup", "service install", "completion"]) {
      assert.match(page, new RegExp(`^\\.SS ssh\\\\-anchor ${command}$`, "m"), command);
    }
    const rendered = await run("man", ["-l", join(prefix, "share", "man", "man1", "ssh-anchor.1")], { env: { ...process.env, MANWIDTH: "80", MAN_KEEP_FORMATTING: "" } });
    assert.equal(rendered.code, 0, rendered.stderr);
    assert.match(rendered.stdout, /--idle-exit <seconds>/);
  });
});
