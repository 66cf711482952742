import { CommanderError, type Command } from 'commander';

/**
 * Runs a program built with `exitOverride()` on `argv` (user arguments). Commander's own refusals
 * (unknown option, missing argument or value) set exit code 2, as the programs' option checks do;
 * help and version requests end here too, with exit code 0.
 */
export async function parseProgram(program: Command, argv: readonly string[], setExitCode: (code: number) => void): Promise<void> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    setExitCode(error.exitCode === 0 ? 0 : 2);
  }
}
