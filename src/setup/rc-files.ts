/** Where each shell reads its interactive start-up code, relative to $HOME. */
export const RC_FILES = {
  bash: ".bashrc",
  zsh: ".zshrc",
  sh: ".profile",
  fish: ".config/fish/config.fish",
} as const;

export type RcShell = keyof typeof RC_FILES;
