import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { COMPLETION_SHELLS, SHELL_RECORDS, SHELLS, initShell, setupShell, shellNamed } from "../../src/shared/core/shells.js";
import { completionFile } from "../../src/features/completion/install.js";
import { configHome } from "../../src/shared/core/location.js";
import { initScript, scopedInitScript } from "../../src/features/shell/init.js";
import { BIN, run } from "../helpers/process.js";

/** The record's shells grouped by the shell/ files they use: what each `case` of bin/ssh-anchor must list. */
function namesBySuffix(): Record<string, string[]> {
  const groups: Record<string, string[]> = {};
  for (const shell of SHELL_RECORDS) (groups[shell.scripts] ??= []).push(shell.name);
  return groups;
}

describe("the shell record", () => {
  // bin/ssh-anchor is POSIX sh, so it cannot read the record: these two tests hold it to it.
  it("is what bin/ssh-anchor's case lines answer, shell by shell and file by file", async () => {
    const launcher = await readFile(BIN, "utf8");
    const cases = [...launcher.matchAll(/^\s*([a-z][a-z |]*)\) command_line (?:sh|fish) && print_file "\$root\/shell\/(scoped|location)\.(\w+)"/gm)];
    const found: Record<string, Record<string, string[]>> = {};
    for (const [, labels, file, suffix] of cases) ((found[file as string] ??= {})[suffix as string] = (labels as string).split("|").map((label) => label.trim()));
    assert.deepEqual(found, { scoped: namesBySuffix(), location: namesBySuffix() });
  });

  it("makes bin/ssh-anchor print, without Node, the bytes the library gives for every shell and mode", async () => {
    for (const shell of SHELLS) {
      const forms: Array<[string[], string]> = [
        // The scripts call the command as it was run (here by its absolute path).
        [["init", shell], initScript(shell, { command: BIN })],
        [["init", "--link", shell], initScript(shell, { link: true, command: BIN })],
        [["init", "--per-identity", shell], scopedInitScript(shell, BIN)],
      ];
      for (const [args, expected] of forms) {
        const result = await run(BIN, args);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, expected, args.join(" "));
      }
    }
  });

  it("knows a shell by its name or an alias; init takes names only", () => {
    assert.equal(shellNamed("dash")?.name, "sh");
    assert.equal(shellNamed("fish")?.rcFile, ".config/fish/config.fish");
    assert.equal(shellNamed("tcsh"), undefined);
    assert.equal(shellNamed("constructor"), undefined);
    assert.equal(initShell("zsh").scripts, "sh");
    assert.throws(() => initShell("dash"), /^UserError: unknown shell "dash"; use one of: bash, zsh, sh, fish$/);
  });

  it("writes each shell's own syntax", () => {
    assert.equal(initShell("bash").rcLine("init --link"), 'eval "$(ssh-anchor init --link bash)"');
    assert.equal(initShell("fish").rcLine("init --per-identity"), "ssh-anchor init --per-identity fish | source");
    assert.equal(initShell("sh").exportLine("/s"), "export SSH_AUTH_SOCK=/s");
    assert.equal(initShell("fish").exportLine("/s"), "set -gx SSH_AUTH_SOCK /s");
  });

  it("guesses setup's shell from $SHELL unless one is named, and says which it knows", () => {
    assert.equal(setupShell(undefined, { SHELL: "/usr/bin/ksh" }).name, "sh");
    assert.equal(setupShell("fish", { SHELL: "/bin/bash" }).name, "fish");
    assert.throws(() => setupShell("tcsh", {}), /^UserError: tcsh is not supported: setup knows bash, zsh, sh and fish \(--shell bash\|zsh\|sh\|fish\)$/);
    assert.throws(() => setupShell(undefined, { SHELL: "/bin/tcsh" }), /your shell \(tcsh, from \$SHELL\) is not supported/);
    assert.throws(() => setupShell(undefined, {}), /cannot tell your shell \(\$SHELL is not set\): name it with --shell bash\|zsh\|sh\|fish$/);
  });

  it("says where each shell's completion goes, and that sh has none", () => {
    assert.deepEqual(COMPLETION_SHELLS, ["bash", "zsh", "fish"]);
    assert.equal(completionFile("bash", "/h", {}), "/h/.local/share/bash-completion/completions/ssh-anchor");
    assert.equal(completionFile("zsh", "/h", { XDG_DATA_HOME: "/d" }), "/d/zsh/site-functions/_ssh-anchor");
    assert.equal(completionFile("fish", "/h", { XDG_CONFIG_HOME: "/c" }), "/c/fish/completions/ssh-anchor.fish");
    assert.equal(completionFile("fish", "/h", { XDG_CONFIG_HOME: "relative" }), "/h/.config/fish/completions/ssh-anchor.fish");
    assert.equal(initShell("sh").completion, undefined);
  });

  it("finds the configuration directory as XDG says: an absolute $XDG_CONFIG_HOME, else ~/.config", () => {
    assert.equal(configHome("/h", {}), "/h/.config");
    assert.equal(configHome("/h", { XDG_CONFIG_HOME: "/c" }), "/c");
    assert.equal(configHome("/h", { XDG_CONFIG_HOME: "c" }), "/h/.config");
  });
});
