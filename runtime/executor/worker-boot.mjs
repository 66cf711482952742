// Development entry for worker threads: registers the TypeScript loader, then loads the real entry.
// Compiled builds (dist/) start worker-main.js directly and never load this file.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
