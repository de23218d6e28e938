import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { initLines, runsInit, savedScriptForm } from "../../src/shared/core/init-line.js";
import { SHELL_RECORDS, type InitMode } from "../../src/shared/core/shells.js";

const MODES: readonly InitMode[] = ["init", "init --link", "init --per-identity"];

describe("doctor: the init line", () => {
  it("is recognised in every form setup writes, link mode and per-identity included", () => {
    for (const shell of SHELL_RECORDS) for (const mode of MODES) assert.ok(runsInit(`# mine\n${shell.rcLine(mode)}\n`), shell.rcLine(mode));
  });

  it("is recognised written by hand, or as a sourced file of init's output", () => {
    assert.ok(runsInit('eval "$(ssh-anchor init)"'));
    assert.ok(runsInit(". ~/.ssh-anchor.sh"));
  });

  it("is not ssh-anchor's other commands, nor a word that only begins like init", () => {
    assert.ok(!runsInit("ssh-anchor rc > ~/.ssh/rc"));
    assert.ok(!runsInit("ssh-anchor initialise"));
    assert.ok(!runsInit("alias sa=ssh-anchor"));
  });

  it("in its per-identity form is only the line of shared accounts", () => {
    for (const shell of SHELL_RECORDS) {
      assert.ok(runsInit(shell.rcLine("init --per-identity"), "per-identity"));
      assert.ok(!runsInit(shell.rcLine("init"), "per-identity"));
      assert.ok(!runsInit(shell.rcLine("init --link"), "per-identity"));
    }
  });
});

describe("the init line, line by line with its form", () => {
  it("tells every form apart in every shell's syntax, by hand or by setup, and skips comments", () => {
    for (const shell of SHELL_RECORDS) {
      for (const mode of MODES) assert.deepEqual(initLines(`# ${shell.rcLine("init")}\n${shell.rcLine(mode)}\n`).map((line) => [line.line, line.form]), [[2, mode]]);
    }
    const text = [
      'eval "$(/usr/local/bin/ssh-anchor init bash --per-identity)"',
      "command -v ssh-anchor >/dev/null && eval \"$(ssh-anchor init --link --no-prompt zsh)\"",
      "[ -r ~/.ssh-anchor.sh ] && . ~/.ssh-anchor.sh",
      "test -r ~/.config/ssh-anchor-scoped.fish; and source ~/.config/ssh-anchor-scoped.fish",
      "  # eval \"$(ssh-anchor init bash)\"",
    ].join("\n");
    assert.deepEqual(
      initLines(text).map((line) => [line.line, line.form, line.sources]),
      [
        [1, "init --per-identity", undefined],
        [2, "init --link", undefined],
        [3, undefined, "~/.ssh-anchor.sh"],
        [4, undefined, "~/.config/ssh-anchor-scoped.fish"],
      ],
    );
  });

  it("reads a saved script's form from its text", () => {
    assert.equal(savedScriptForm("# ssh-anchor per-identity shell integration for bash"), "init --per-identity");
    assert.equal(savedScriptForm("# Where ...\n# ssh-anchor link mode (no daemon) for bash"), "init --link");
    assert.equal(savedScriptForm("# Where ...\n# ssh-anchor shell integration for bash"), "init");
    assert.equal(savedScriptForm("echo hello"), undefined);
  });
});
