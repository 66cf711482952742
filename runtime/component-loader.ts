import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ComponentRef } from './contracts.js';

/**
 * Turns a module reference into a factory of instances. A class export is constructed with
 * `new X(args)`; a function export that is not a class is called as a factory.
 */
export async function loadComponentFactory(ref: ComponentRef): Promise<() => unknown> {
  const url = isAbsolute(ref.module) ? pathToFileURL(ref.module).href : ref.module;
  const mod = (await import(url)) as Record<string, unknown>;
  const exported = mod[ref.export];
  if (typeof exported !== 'function') {
    throw new Error(`module ${ref.module} has no function or class export "${ref.export}"`);
  }
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(exported));
  const ctor = exported as new (args: unknown) => unknown;
  const fn = exported as (args: unknown) => unknown;
  return isClass ? () => new ctor(ref.args) : () => fn(ref.args);
}

/**
 * A reference to a module next to the caller, that works both from TypeScript sources (tests,
 * development) and from the compiled JavaScript in dist/.
 */
export function moduleRef<A>(callerUrl: string, relativePath: string, exportName: string, args?: A): ComponentRef<A> {
  const ext = callerUrl.endsWith('.ts') ? '.ts' : '.js';
  const module = new URL(relativePath.replace(/\.(ts|js)$/, '') + ext, callerUrl).href;
  return args === undefined ? { module, export: exportName } : { module, export: exportName, args };
}
