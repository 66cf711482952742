/**
 * Replaces how kafkajs builds one kind of request, for the encoders and decoders of our own that
 * stand in for kafkajs' (produce-encoder.ts, fetch-decoder.ts). kafkajs keeps a table per API
 * (`src/protocol/requests/<api>/index.js`: `versions` and `protocol({ version })`, which returns
 * the builder of that version's request and response); every broker connection looks its
 * requests up there, so wrapping `protocol` reaches every client of the thread.
 *
 * kafkajs 2.2.4 is pinned (package-lock.json) and is the project's last release. The hook checks
 * the table's shape first and leaves kafkajs untouched when it differs.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface RequestTable<B> {
  versions: string[];
  protocol: (o: { version: number }) => B | undefined;
  [marker: symbol]: true | undefined;
}

/**
 * Wraps the `protocol` of kafkajs' table `kafkajs/src/protocol/requests/<api>/index.js`: `wrap`
 * receives each version's builder and returns the builder to use. False, with nothing changed,
 * when the table cannot be loaded or lacks `requiredVersion`; true once wrapped (also when the
 * same `marker` wrapped it before).
 */
export function hookKafkajsRequests<B>(api: string, marker: symbol, requiredVersion: string, wrap: (build: B, version: number) => B): boolean {
  let table: RequestTable<B>;
  try {
    table = require(`kafkajs/src/protocol/requests/${api}/index.js`) as RequestTable<B>;
  } catch {
    return false;
  }
  if (typeof table.protocol !== 'function' || !Array.isArray(table.versions) || !table.versions.includes(requiredVersion)) return false;
  if (table[marker]) return true;
  const original = table.protocol.bind(table);
  table.protocol = ({ version }) => {
    const build = original({ version });
    return build === undefined ? build : wrap(build, Number(version));
  };
  table[marker] = true;
  return true;
}

/** A module of kafkajs' sources (`kafkajs/src/...`), or null when it cannot be loaded. */
export function kafkajsModule<T>(path: string): T | null {
  try {
    return require(`kafkajs/src/${path}`) as T;
  } catch {
    return null;
  }
}
