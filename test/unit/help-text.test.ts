import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { prose } from "../../src/cli/help-text.js";
import { REPO, run } from "../helpers/process.js";

/** What `command --help` prints to a terminal `width` columns wide. */
function helpAt(width: number, text: string): string {
  let out = "";
  const command = new Command("demo").configureOutput({ writeOut: (s) => (out += s), getOutHelpWidth: () => width });
  command.addHelpText("after", prose(text));
  command.outputHelp();
  return out.slice(out.indexOf("\n\n", out.indexOf("Options:")) + 2);
}

/** The commands listed under "Commands:" in a help text. */
function commandsIn(help: string): string[] {
  const section = help.split(/^Commands:\n/m)[1] ?? "";
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] as string).filter((name) => name !== "help");
}

describe("help text after the options", () => {
  it("wraps paragraphs and list items to the width commander wraps the options to, and keeps indented lines", () => {
    const text = `
A first paragraph, broken
in the source where it pleased the author, which is long enough to wrap twice at fifty columns.

Examples:
  ssh-anchor connect --screen --session work -J bastion me@devbox
  - an item long enough to be wrapped under its own text, not under the dash
    and its continuation
Exit status 0.`;
    assert.equal(
      helpAt(50, text),
      `A first paragraph, broken in the source where it
pleased the author, which is long enough to wrap
twice at fifty columns.

Examples:
  ssh-anchor connect --screen --session work -J bastion me@devbox
  - an item long enough to be wrapped under its
    own text, not under the dash and its
    continuation
Exit status 0.
`,
    );
    assert.match(helpAt(200, text), /^A first paragraph, broken in the source where it pleased the author, which is long enough to wrap twice at fifty columns\.\n/);
  });

  it("keeps every command's help within 80 columns where it is not a terminal (a pipe, the man page)", async () => {
    const bin = join(REPO, "bin", "ssh-anchor");
    const long: string[] = [];
    const walk = async (words: string[]): Promise<void> => {
      const help = (await run(bin, [...words, "--help"])).stdout;
      for (const line of help.split("\n")) if (line.length > 80) long.push(`ssh-anchor ${words.join(" ")}: ${line}`);
      for (const name of commandsIn(help)) await walk([...words, name]);
    };
    await walk([]);
    // connect's plumbing, left out of --help's list but in the man page.
    await walk(["session-env"]);
    assert.deepEqual(long, []);
  });
});
