import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseInstallArgs } from "../../src/features/install/args.js";
import { compareVersions, hostFacts } from "../../src/features/install/install.js";
import { executableTarget, packageTarball, targetOf } from "../../src/features/install/payload.js";
import { answers, installScript, probeScript, remoteCommand, verifyScript } from "../../src/features/install/remote.js";
import { shellQuote } from "../../src/shared/core/ssh-options.js";
import { REPO } from "../helpers/process.js";

describe("install's arguments", () => {
  it("passes ssh's options through by ssh's grammar and keeps its own", () => {
    const request = parseInstallArgs(["--executable", "a", "-J", "jump", "-p2222", "-At", "--executable=b", "--shell", "zsh", "--quiet", "me@host"]);
    assert.deepEqual(request.sshOptions, ["-J", "jump", "-p2222", "-At"]);
    assert.deepEqual(request.executables, ["a", "b"]);
    assert.equal(request.destination, "me@host");
    assert.equal(request.shell, "zsh");
    assert.equal(request.quiet, true);
    assert.equal(request.force, false);
  });

  it("refuses what it cannot use, in one line each, status 2", () => {
    for (const [argv, message] of [
      [[], /^no host/],
      [["--forse", "h"], /^unknown option '--forse'/],
      [["h", "uptime"], /install takes one host/],
      [["h", "--", "uptime"], /runs no remote command/],
      [["-Z", "h"], /unknown ssh option -Z/],
      [["h", "--executable"], /'--executable' needs a value/],
      [["--force=yes", "h"], /takes no value/],
    ] as const) {
      assert.throws(() => parseInstallArgs(argv), (error: Error & { exitCode?: number }) => message.test(error.message) && error.exitCode === 2, argv.join(" "));
    }
  });
});

describe("install's remote scripts", () => {
  const scripts = [probeScript(undefined), probeScript("fish"), verifyScript(), installScript({ kind: "package", size: 10, npm: true }, "1.2.3", { restart: true, shell: undefined })];
  scripts.push(installScript({ kind: "package", size: 10, npm: false }, "1.2.3", { restart: false, shell: "zsh" }));
  scripts.push(installScript({ kind: "executable", size: 10, gzip: true }, "1.2.3", { restart: false, shell: undefined }));
  scripts.push(installScript(undefined, "1.2.3", { restart: false, shell: undefined }));

  it("are valid sh, and reach sh intact through sh, bash, zsh and fish as the login shell", () => {
    for (const script of scripts) {
      execFileSync("sh", ["-n", "-c", script]);
      // What the login shell hands to sh: the script itself.
      for (const shell of ["sh", "bash", "zsh", "fish"]) {
        const echoed = execFileSync(shell, ["-c", `printf %s ${shellQuote(script)}`], { encoding: "utf8" });
        assert.equal(echoed, script, shell);
      }
      assert.ok(!script.includes("\\\\"), "no backslash pair (fish)");
      assert.match(remoteCommand(script), /^sh -c '/);
    }
    const hostile = "a'b\"c $x `y` \\n";
    assert.equal(execFileSync("bash", ["-c", `printf %s ${shellQuote(hostile)}`], { encoding: "utf8" }), hostile);
  });

  it("reads only its own lines, made printable", () => {
    const found = answers("Welcome!\nssh-anchor-install:arch=x86_64\nssh-anchor-install:has=npm\nssh-anchor-install:has=tar\nssh-anchor-install:installed=\u001b[2J0.1.0\nnoise=1\n");
    assert.deepEqual(found.get("arch"), ["x86_64"]);
    assert.deepEqual(found.get("has"), ["npm", "tar"]);
    assert.deepEqual(found.get("installed"), ["?[2J0.1.0"]);
    assert.equal(found.has("noise"), false);
    // A version that is not one counts as "something there that does not say its version".
    assert.equal(hostFacts(found).installed, "");
  });

  it("takes Node 20 and later only, and only a setup that says it is in place", () => {
    const facts = hostFacts(answers("ssh-anchor-install:os=Linux\nssh-anchor-install:arch=aarch64\nssh-anchor-install:node=v18.19.0\nssh-anchor-install:setup-status=0\nssh-anchor-install:setup=dry run: nothing was written\n"));
    assert.equal(facts.node, undefined);
    assert.deepEqual(facts.target, { os: "linux", arch: "arm64" });
    assert.equal(facts.setUp, false);
    assert.equal(hostFacts(answers("ssh-anchor-install:node=v22.1.0\n")).node, "v22.1.0");
  });
});

describe("install's payloads", () => {
  it("compares versions as numbers", () => {
    assert.equal(compareVersions("0.2.0", "0.10.0"), -1);
    assert.equal(compareVersions("1.0.0", "1.0.0"), 0);
    assert.equal(compareVersions("1.0.1", "1.0.0"), 1);
    assert.equal(compareVersions("1.0.0-rc.1", "1.0.0"), -1);
  });

  it("names the host's architecture as Node does, and reads an executable's from its header", async () => {
    assert.deepEqual(targetOf("Linux", "x86_64"), { os: "linux", arch: "x64" });
    assert.deepEqual(targetOf("Darwin", "arm64"), { os: "darwin", arch: "arm64" });
    assert.equal(targetOf("Plan9", "x86_64"), undefined);
    assert.deepEqual(await executableTarget(process.execPath), { os: process.platform, arch: process.arch });
    assert.equal(await executableTarget(join(REPO, "bin", "ssh-anchor")), undefined);
  });

  it("packs the package as npm pack lays it out, readable by tar", async () => {
    const { data, version } = await packageTarball(REPO);
    const dir = mkdtempSync(join(tmpdir(), "anchor-tarball-"));
    try {
      writeFileSync(join(dir, "p.tgz"), data);
      execFileSync("tar", ["-xzf", join(dir, "p.tgz"), "-C", dir]);
      const manifest = JSON.parse(readFileSync(join(dir, "package", "package.json"), "utf8")) as { version: string };
      assert.equal(manifest.version, version);
      assert.equal(readFileSync(join(dir, "package", "shell", "init.sh"), "utf8"), readFileSync(join(REPO, "shell", "init.sh"), "utf8"));
      const listing = execFileSync("tar", ["-tvzf", join(dir, "p.tgz")], { encoding: "utf8" });
      assert.match(listing, /^-rwxr-xr-x .* package\/bin\/ssh-anchor$/m);
      assert.match(listing, /package\/dist\/cli\.js$/m);
      assert.doesNotMatch(listing, /package\/(src|test|node_modules)\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
