import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { describe, it } from "node:test";
import { SHELL_RECORDS, SHELLS, type InitMode } from "../../src/shared/core/shells.js";
import { REPO, run } from "../helpers/process.js";

/** The README and docs/ must work from a clone of this repository alone. */
describe("README and docs", () => {
  const documents = [
    "README.md",
    "docs/install.md",
    "docs/setup.md",
    "docs/connect.md",
    "docs/forwards.md",
    "docs/per-identity.md",
    "docs/link-mode.md",
    "docs/systemd.md",
    "docs/troubleshooting.md",
    "docs/commands.md",
    "docs/how-it-works.md",
    "docs/security.md",
    "docs/development.md",
    "docs/benchmarks.md",
    "docs/distribution.md",
    "docs/architecture.md",
  ];
  const tracked = async (): Promise<Set<string>> => {
    const listed = await run("git", ["ls-files"], { cwd: REPO });
    assert.equal(listed.code, 0, listed.stderr);
    return new Set(listed.stdout.split("\n").filter(Boolean));
  };

  it("link only to files in the repository, and to files that are there", async () => {
    const files = await tracked();
    for (const document of documents) {
      const text = await readFile(join(REPO, document), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target as string)) continue; // a web address
        const path = normalize(join(dirname(document), target as string));
        assert.ok(!path.startsWith(".."), `${document} links outside the repository: ${target}`);
        assert.ok(files.has(path), `${document} links to ${target}, which is not in the repository`);
      }
      assert.doesNotMatch(text, /\.\.\/shared\/|\/work\//, `${document} points outside the repository`);
    }
  });

  it("name only npm scripts, repository paths and ssh-anchor commands that exist", async () => {
    const files = await tracked();
    const scripts = (JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const help = (await run(join(REPO, "bin", "ssh-anchor"), ["--help"])).stdout;
    const commands = new Set([...help.matchAll(/^ {2}([a-z][a-z-]*) /gm)].map((m) => m[1]));
    for (const document of documents) {
      const text = await readFile(join(REPO, document), "utf8");
      for (const [, script] of text.matchAll(/npm run ([a-z0-9:]+)/g)) {
        assert.ok(scripts[script as string], `${document}: npm run ${script} is not a script in package.json`);
      }
      for (const [, path] of text.matchAll(/(?:^|[\s`(])(\.?\/?(?:\.ci|scripts|bench|docs|shell|test)\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_])/gm)) {
        const clean = normalize((path as string).replace(/^\.\//, ""));
        if (clean.startsWith("bench/results/")) continue; // what npm run bench writes
        const isDirectory = [...files].some((file) => file.startsWith(`${clean}/`));
        assert.ok(files.has(clean) || isDirectory, `${document} names ${path}, which is not in the repository`);
      }
      for (const [, command] of text.matchAll(/`ssh-anchor ([a-z][a-z-]*)\b/g)) {
        // Not in --help's list: a command left out of it (connect's plumbing) has a usage of its own.
        const exists = commands.has(command as string) || (await run(join(REPO, "bin", "ssh-anchor"), [command as string, "--help"])).stdout.startsWith(`Usage: ssh-anchor ${command} `);
        assert.ok(exists, `${document}: ssh-anchor ${command} is not a command`);
      }
    }
  });

  it("show each shell's rc file and line as src/shared/core/shells.ts has them", async () => {
    const tablesIn = async (document: string) =>
      [...(await readFile(join(REPO, document), "utf8")).matchAll(/^\| shell \| file \| line \|\n\| --- \| --- \| --- \|\n((?:\|.*\n)+)/gm)].map((match) => match[1]);
    const rows = (mode: InitMode) =>
      SHELL_RECORDS.map((shell) => `| ${[shell.name, ...shell.aliases].join(", ")} | \`~/${shell.rcFile}\` | \`${shell.rcLine(mode).replaceAll("|", "\\|")}\` |\n`).join("");
    // The front door's table and setup's page show the init line; the shared accounts' page its own.
    assert.deepEqual(await tablesIn("README.md"), [rows("init")]);
    assert.deepEqual(await tablesIn("docs/setup.md"), [rows("init")]);
    assert.deepEqual(await tablesIn("docs/per-identity.md"), [rows("init --per-identity")]);
    const readme = await readFile(join(REPO, "README.md"), "utf8");
    assert.ok(readme.includes(`it knows ${SHELLS.slice(0, -1).join(", ")} and ${SHELLS.at(-1)}`), "the README names the shells setup knows");
  });

  it("need no sudo to follow the quick start as root", async () => {
    const readme = await readFile(join(REPO, "README.md"), "utf8");
    const quickStart = /## Quick start\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? "";
    const block = /```sh\n([\s\S]*?)```/.exec(quickStart)?.[1] ?? "";
    assert.ok(block, "a command block in the quick start");
    assert.doesNotMatch(block, /\bsudo\b/, "a fresh Debian machine used as root has no sudo");
    assert.match(block, /^bash \.ci\/run\b/m);
  });
});
