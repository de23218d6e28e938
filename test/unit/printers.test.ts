import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { paint, renderLines } from "../../src/cli/output.js";
import { printable, printableJson } from "../../src/shared/core/text.js";
import { REPO } from "../helpers/process.js";

const HOSTILE = "evil\u001b]0;title\u0007\u001b[2J\nok   daemon     everything is fine\u0085x\u009by\u202ez\u2066\ud800";

/**
 * The files allowed to write to stdout or stderr themselves, each with the reason. Every other
 * printer goes through src/cli/output.ts (printLines, printJson, printError, printScript), so a
 * new printer cannot forget the sanitiser: this test fails until it uses them.
 */
const WRITERS: Record<string, string> = {
  "src/cli/output.ts": "the output boundary itself",
  "src/shared/core/log.ts": "sanitises every message (printable) before writing",
  "src/features/connect/terminal.ts": "sanitises status lines (printable); the rest are its own mode-reset sequences",
  "src/features/connect/session.ts": "its three error lines go through printable",
  "src/features/connect/ssh-process.ts": "passes ssh's stderr through as ssh shows it (the session's own terminal)",
};

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : [join(dir, entry.name)])));
  return nested.flat().filter((file) => file.endsWith(".ts"));
}

describe("printers", () => {
  it("only the output boundary (and the few named files) write to stdout or stderr", async () => {
    const writers: string[] = [];
    for (const file of await sources(join(REPO, "src"))) {
      const code = (await readFile(file, "utf8")).replace(/^\s*(\*|\/\/).*$/gm, "");
      if (/process\.(stdout|stderr)\.write\(|console\.(log|error|warn|info)\(/.test(code)) writers.push(relative(REPO, file));
    }
    assert.deepEqual(writers.sort(), Object.keys(WRITERS).sort());
  });

  it("a line's pieces are sanitised, then painted: colour codes are the only escapes", () => {
    const out = renderLines([[paint("ok  ", "green"), ` daemon ${HOSTILE}`], ["  ", paint(HOSTILE, "dim")], HOSTILE], true);
    assert.equal(out.split("\n").length, 4, "three lines, each one line");
    assert.equal(out.replace(/\u001b\[(?:\d+)m/g, "").match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/), null);
    assert.match(out, /^\u001b\[32mok  \u001b\[0m daemon evil\?\]0;title\?\?\[2J\?ok {3}daemon/);
  });

  it("printable turns C0, C1, bidi controls and lone surrogates into ?, and keeps other text", () => {
    assert.equal(printable(HOSTILE), "evil?]0;title??[2J?ok   daemon     everything is fine?x?y?z??");
    assert.equal(printable("naïve café 日本 🔑"), "naïve café 日本 🔑");
  });

  it("printableJson escapes C1 and bidi too, and loses nothing", () => {
    const json = printableJson({ comment: HOSTILE }, 2);
    assert.equal(json.match(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/), null, json);
    assert.ok(json.includes("\\u0085") && json.includes("\\u009b") && json.includes("\\u202e") && json.includes("\\u2066"));
    assert.deepEqual(JSON.parse(json), { comment: HOSTILE });
  });
});
