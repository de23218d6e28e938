import type { AddHelpTextContext } from "commander";

/**
 * The text after a command's options (`addHelpText("after", prose(...))`), wrapped as commander
 * wraps the options: to the terminal's width, or 80 columns when the help is not going to a
 * terminal (a pipe, the man page). Written as paragraphs separated by blank lines, broken
 * anywhere in the source: the lines of a paragraph are joined, then wrapped. A list item
 * (`  - text`, its next lines indented under the text) is wrapped the same way, under itself.
 * Any other line that begins with a space is kept as written (examples, tables).
 *
 * @example
 * command.addHelpText("after", prose(`
 * A paragraph, broken where the
 * source likes.
 *
 * Examples:
 *   ssh-anchor doctor --fix`));
 */
export function prose(text: string): (context: AddHelpTextContext) => string {
  return (context) => {
    const output = context.command.configureOutput();
    const width = (context.error ? output.getErrHelpWidth?.() : output.getOutHelpWidth?.()) ?? 80;
    const help = context.command.createHelp();
    return blocksOf(text)
      .map((block) => {
        if (typeof block === "string") return block;
        const hang = " ".repeat(block.prefix.length);
        const lines = help.boxWrap(block.words.join(" "), width - block.prefix.length).split("\n");
        return lines.map((line, i) => (i === 0 ? block.prefix : hang) + line).join("\n");
      })
      .join("\n");
  };
}

/** Words to wrap after a prefix (a paragraph's is empty, a list item's its indent and dash). */
interface Flowing {
  readonly prefix: string;
  readonly words: string[];
}

const LIST_ITEM = /^( +- )(.*)$/;

/** The text as lines kept as written (strings) and blocks to wrap. */
function blocksOf(text: string): Array<string | Flowing> {
  const blocks: Array<string | Flowing> = [];
  let flowing: Flowing | undefined;
  for (const line of text.split("\n")) {
    const item = LIST_ITEM.exec(line);
    if (item) {
      flowing = { prefix: item[1] as string, words: [(item[2] as string).trim()] };
      blocks.push(flowing);
    } else if (line.trim() === "") {
      flowing = undefined;
      blocks.push("");
    } else if (!line.startsWith(" ")) {
      if (flowing?.prefix !== "") blocks.push((flowing = { prefix: "", words: [] }));
      flowing.words.push(line.trim());
    } else if (flowing && flowing.prefix !== "" && line.startsWith(" ".repeat(flowing.prefix.length)) && line[flowing.prefix.length] !== " ") {
      flowing.words.push(line.trim());
    } else {
      flowing = undefined;
      blocks.push(line);
    }
  }
  return blocks;
}
