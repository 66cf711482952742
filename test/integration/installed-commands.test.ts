import { execFile } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Every command of package.json "bin" as a user gets it: installed from the package, run through
 * the symlink the install made. A copy of this checkout is packed with `npm pack` (its prepare
 * script builds dist/), the tarball is extracted, its production dependencies are installed
 * offline from package-lock.json and the npm cache, and the package is installed into a temporary
 * global prefix (`npm install -g --prefix`, as a link, the way `npm link` does), so each command is
 * `<prefix>/bin/<name>` -> `lib/node_modules/themis/dist/bin/<name>.js`, as after
 * `npm install -g`. (`npm install -g <tarball>` itself resolves the dependency ranges against the
 * registry, which a test must not need.)
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const commands = Object.keys(packageJson.bin);
const expected = JSON.parse(readFileSync(join(root, 'test/fixtures/sample-flows-expected.json'), 'utf8')) as {
  counts: { inputLines: number; skippedLines: number; scoredFlows: number };
};
/** Top-level entries of the checkout that are not part of its sources. */
const NOT_SOURCES = new Set(['node_modules', 'dist', 'out', '.git', '.kafka', 'test-results']);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment of a user's shell: no npm_* variables of the `npm test` that runs this file. */
function userEnv(prefix: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  // The commands start with `#!/usr/bin/env node`: this node, and the prefix's bin as after an install.
  env['PATH'] = [join(prefix, 'bin'), dirname(process.execPath), process.env['PATH'] ?? ''].join(delimiter);
  env['npm_config_update_notifier'] = 'false';
  return env;
}

function run(file: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr: err !== null && code === null ? `${stderr}\n${err.message}` : stderr });
    });
  });
}

async function npm(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run('npm', [...args, '--no-audit', '--no-fund'], { cwd, env, timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${r.code}) in ${cwd}:\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

describe('the package installed into a prefix: every bin command through its symlink', () => {
  let tmp: string;
  let prefix: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'themis-install-'));
    prefix = join(tmp, 'prefix');
    env = userEnv(prefix);
    const src = join(tmp, 'src');
    cpSync(root, src, { recursive: true, filter: (p) => p === root || !NOT_SOURCES.has(p.slice(root.length).split('/')[0]!) });
    // prepare (tsc) needs the dev dependencies; the installed package gets its own below.
    symlinkSync(realpathSync(join(root, 'node_modules')), join(src, 'node_modules'));
    const packed = JSON.parse(await npm(['pack', '--json', '--pack-destination', tmp], src, env)) as Array<{ filename: string }>;
    const pkg = join(tmp, 'pkg');
    mkdirSync(pkg);
    const untar = await run('tar', ['xzf', join(tmp, basename(packed[0]!.filename)), '-C', pkg, '--strip-components=1'], { cwd: tmp, env, timeoutMs: 30_000 });
    expect(untar.code, untar.stderr).toBe(0);
    cpSync(join(root, 'package-lock.json'), join(pkg, 'package-lock.json'));
    await npm(['ci', '--omit=dev', '--offline', '--ignore-scripts'], pkg, env);
    await npm(['install', '--global', '--prefix', prefix, pkg, '--offline', '--ignore-scripts'], tmp, env);
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it.each(commands)('%s is a symlink in the prefix and prints its usage with --help', async (command) => {
    const installed = join(prefix, 'bin', command);
    expect(lstatSync(installed).isSymbolicLink()).toBe(true);
    const r = await run(installed, ['--help'], { cwd: tmp, env, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Usage: ${command} `);
  });

  it('themis-topology scores the sample flows the package ships, with no service running', async () => {
    const out = join(tmp, 'out');
    const r = await run('themis-topology', ['submit', '1', '1', '100', '0', 'installed', '--output-dir', out, '--workers', '1', '--no-metrics-port'], {
      cwd: tmp,
      env,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`themis: done in [\\d.]+ s: ${expected.counts.inputLines - expected.counts.skippedLines} lines`));
    const scored = readFileSync(join(out, 'scored-flows.jsonl'), 'utf8').trim().split('\n');
    expect(scored).toHaveLength(expected.counts.scoredFlows);
  });
});
