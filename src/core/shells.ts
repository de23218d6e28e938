/** Where each shell reads its interactive start-up code, relative to $HOME. */
export const RC_FILES = {
  bash: ".bashrc",
  zsh: ".zshrc",
  sh: ".profile",
  fish: ".config/fish/config.fish",
} as const;

export type RcShell = keyof typeof RC_FILES;

/** The rc-file shell a shell's name stands for: the POSIX shells that read ~/.profile are sh. */
export function rcShellOf(name: string): string {
  return ["dash", "ksh", "mksh", "ash"].includes(name) ? "sh" : name;
}
