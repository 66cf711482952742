import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * topology/ui/ of the package, whether this module runs from source or from dist/topology/ui/:
 * the page's files are shipped as they are (no build step), so tsc does not copy them to dist/.
 */
export function pageAssetsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, 'index.html'))) return here;
  return join(here, '..', '..', '..', 'topology', 'ui');
}
