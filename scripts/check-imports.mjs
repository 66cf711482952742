// Checks the import rules of STYLE.md: layers import one way (bin -> topology -> spouts/bolts ->
// runtime; data_sources tools stand alone) and no file-level import cycle exists.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const layers = ['runtime', 'bolts', 'spouts', 'topology', 'bin', 'data_sources'];
const allowed = {
  runtime: ['runtime'],
  bolts: ['runtime', 'bolts', 'spouts'],
  spouts: ['runtime', 'spouts', 'bolts'],
  topology: ['runtime', 'bolts', 'spouts', 'topology'],
  bin: ['runtime', 'bolts', 'spouts', 'topology', 'bin', 'data_sources'],
  data_sources: ['data_sources'],
};

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const files = layers.flatMap((l) => {
  try {
    return walk(join(root, l));
  } catch {
    return [];
  }
});
const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
const problems = [];
const graph = new Map();
for (const file of files) {
  const layer = relative(root, file).split('/')[0];
  const text = readFileSync(file, 'utf8');
  const deps = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
    const targetLayer = relative(root, target).split('/')[0];
    if (layers.includes(targetLayer) && !allowed[layer].includes(targetLayer)) {
      problems.push(`${relative(root, file)} imports ${spec}: ${layer}/ may not import from ${targetLayer}/`);
    }
    if (/^(import|export)\s+type\s/.test(m[0].trim())) continue; // type-only imports vanish at run time
    deps.push(target);
  }
  // kafkajs' values come through spouts/kafka/kafkajs.ts, which patches kafkajs before it loads.
  for (const m of text.matchAll(/(?:^|\n)\s*(import|export)\s([^'"]*?)from\s+['"]kafkajs['"]/g)) {
    if (/^type\s/.test(m[2]) || relative(root, file) === 'spouts/kafka/kafkajs.ts') continue;
    problems.push(`${relative(root, file)} imports values from 'kafkajs': import them from spouts/kafka/kafkajs.ts (types may come from 'kafkajs')`);
  }
  graph.set(file, deps);
}
const state = new Map();
const stack = [];
function visit(f) {
  state.set(f, 1);
  stack.push(f);
  for (const d of graph.get(f) ?? []) {
    if (!graph.has(d)) continue;
    if (state.get(d) === 1) {
      problems.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].map((x) => relative(root, x)).join(' -> ')}`);
    } else if (!state.has(d)) visit(d);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of graph.keys()) if (!state.has(f)) visit(f);
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`imports ok: ${files.length} files, no layer violation, no cycle`);
