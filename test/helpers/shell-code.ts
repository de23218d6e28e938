/** Shell code as `init` prints it, less its first line, which names the binary that printed it
 * (each printer its own path: the launcher, the library, the single executable). */
export function withoutBinaryLine(code: string): string {
  return code.replace(/^(?:set -g )?__ssh_anchor_bin[= ].*\n/, "");
}
