import { parentPort, workerData } from 'node:worker_threads';
import type { PeerMessage, SupervisorToWorker, WorkerData, WorkerToSupervisor } from './messages.js';
import { WorkerRuntime } from './worker-runtime.js';

/** Entry of every worker thread: builds this thread's executors and serves its ports. */
const data = workerData as WorkerData;
const port = parentPort!;
const send = (m: WorkerToSupervisor) => port.postMessage(m);
const runtime = new WorkerRuntime(data, send);

for (const peer of data.peers) peer?.on('message', (m: PeerMessage) => runtime.onPeerMessage(m));
port.on('message', (m: SupervisorToWorker) => {
  runtime.onSupervisorMessage(m);
  if (m.type === 'shutdown') {
    // The runtime replies 'closed' when its components are closed; the ports go with the thread.
  }
});

try {
  await runtime.start();
  send({ type: 'ready' });
} catch (err) {
  runtime.reportFatal(err);
}
