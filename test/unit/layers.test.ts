import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

// The architecture as rules over src/'s imports (docs/architecture.md draws the same picture):
// entry points on top, then the features, then the shared layer; nothing imports upward, and
// no feature imports another. Within the shared layer each folder may use those listed for it.
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "../../src");
const ENTRY_POINTS = ["cli", "sea", "index.ts"];
const FEATURES = ["daemon", "link", "connect", "doctor", "setup", "service", "completion", "shell"];
const SHARED: Record<string, readonly string[]> = {
  control: ["scope", "discovery", "protocol", "core"],
  discovery: ["protocol", "core"],
  scope: ["protocol", "core"],
  protocol: ["core"],
  core: [],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

/** The top-level folder (or file) of src/ that a path belongs to. */
function areaOf(path: string): string {
  return relative(SRC, path).split("/")[0] as string;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+)["']/g)].map((match) => resolve(dirname(file), match[1] as string));
}

function allowed(from: string, to: string): boolean {
  if (from === to || ENTRY_POINTS.includes(from)) return true;
  if (FEATURES.includes(from)) return to in SHARED;
  return SHARED[from]?.includes(to) ?? false;
}

describe("the layers of src/", () => {
  const files = sourceFiles(SRC);

  it("names every folder of src/ as an entry point, a feature or a shared one", () => {
    const areas = new Set(files.map(areaOf));
    for (const area of areas) {
      assert.ok(ENTRY_POINTS.includes(area) || FEATURES.includes(area) || area in SHARED, `src/${area} has no place in the layers`);
    }
  });

  it("has no import running upward or sideways", () => {
    const wrong = files.flatMap((file) =>
      importsOf(file)
        .filter((target) => !allowed(areaOf(file), areaOf(target)))
        .map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`),
    );
    assert.deepEqual(wrong, []);
  });

  it("would catch a feature importing another", () => {
    assert.equal(allowed("doctor", "daemon"), false);
    assert.equal(allowed("protocol", "discovery"), false);
    assert.equal(allowed("cli", "daemon"), true);
  });
});
