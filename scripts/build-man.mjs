// Generates man/ssh-anchor.1 from the same text as --help: the program's help and every
// command's, as the built CLI (dist/cli.js) prints them. Run by `npm run build` (so at prepack
// too); npm install -g puts the page where man finds it (package.json "man").
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli.js");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

function help(words) {
  // Not a terminal: commander wraps at 80 columns and prints no colour.
  return execFileSync(process.execPath, [cli, ...words, "--help"], { encoding: "utf8", env: { ...process.env, COLUMNS: "80", NO_COLOR: "1" } });
}

/** The command names listed under "Commands:" in a help text (help itself left out). */
function commandsIn(text) {
  const section = text.split(/^Commands:\n/m)[1];
  if (!section) return [];
  const names = [];
  for (const line of section.split("\n")) {
    if (!/^ {2}\S/.test(line)) {
      if (line.trim() === "" || /^\S/.test(line)) break;
      continue;
    }
    const name = line.trim().split(/\s/)[0];
    if (name !== "help") names.push(name);
  }
  return names;
}

/** Roff-safe text: backslashes, leading dots and quotes, and hyphens that man would break. */
function roff(text) {
  return text
    .split("\n")
    .map((line) => line.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^([.'])/, "\\&$1"))
    .join("\n");
}

const sections = [];
function walk(words) {
  const text = help(words);
  sections.push({ words, text });
  for (const name of commandsIn(text)) walk([...words, name]);
}
walk([]);
// connect's plumbing, left out of --help's list: documented here all the same.
for (const hidden of ["session-env"]) walk([hidden]);

const [main, ...commands] = sections;
const page = [
  `.TH SSH\\-ANCHOR 1 "" "ssh-anchor ${pkg.version}" "User Commands"`,
  ".SH NAME",
  `ssh\\-anchor \\- ${roff(pkg.description)}`,
  ".SH SYNOPSIS",
  ".B ssh\\-anchor",
  "\\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]",
  ".SH DESCRIPTION",
  "The text below is what \\fBssh\\-anchor \\-\\-help\\fR and each command's \\fB\\-\\-help\\fR print.",
  ".PP",
  ".nf",
  roff(main.text.trimEnd()),
  ".fi",
  ".SH COMMANDS",
  ...commands.flatMap(({ words, text }) => [`.SS ssh\\-anchor ${roff(words.join(" "))}`, ".nf", roff(text.trimEnd()), ".fi"]),
  ".SH FILES",
  ".TP",
  ".I ~/.ssh/anchor\\-<hostname>/agent.sock, else $XDG_RUNTIME_DIR/ssh\\-anchor/agent.sock, else /tmp/ssh\\-anchor\\-$UID/agent.sock",
  "The stable socket (\\fB\\-\\-socket\\fR or \\fBSSH_ANCHOR_SOCKET\\fR move it; \\fBssh\\-anchor status\\fR shows it),",
  "with its \\fI.pid\\fR, \\fI.ctl\\fR and \\fI.log\\fR beside it.",
  ".TP",
  ".I ~/.config/systemd/user/ssh\\-anchor.socket, ssh\\-anchor.service",
  "The units \\fBssh\\-anchor service install\\fR writes.",
  ".SH EXIT STATUS",
  "0 on success; 1 for an expected failure (one line on standard error); 2 for a usage error;",
  "3 from \\fBstatus\\fR when the daemon is not running and from \\fBrun\\fR when another daemon serves the socket.",
  ".SH SEE ALSO",
  "\\fBssh\\fR(1), \\fBssh\\-agent\\fR(1), \\fBssh\\-add\\fR(1), \\fBtmux\\fR(1), \\fBsystemd.socket\\fR(5), \\fBloginctl\\fR(1)",
  "",
].join("\n");

mkdirSync(join(root, "man"), { recursive: true });
writeFileSync(join(root, "man", "ssh-anchor.1"), page);
