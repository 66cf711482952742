import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Whether the module at `moduleUrl` (its `import.meta.url`) is the program node was started
 * with, so that importing a bin module (tests do) runs nothing. An installed command
 * (`npm install -g`, `npm link`, `npx`, node_modules/.bin) is a symlink to the file: node resolves
 * it for `import.meta.url` but leaves `process.argv[1]` as typed, so both sides are compared as
 * real paths.
 */
export function isEntryPoint(moduleUrl: string): boolean {
  const entry = process.argv[1];
  // No script (node -e, a REPL), or one that is not a file (node --eval's argv): not us.
  if (entry === undefined || !existsSync(entry)) return false;
  return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
}
