/**
 * kafkajs as every Themis module loads it: our patches of its sources (kafkajs-patches.ts) are
 * applied first, before kafkajs' own modules are, in each thread. Import kafkajs' values from here
 * (`npm run lint` refuses a direct value import elsewhere in the sources); type imports may name
 * 'kafkajs' directly, they vanish at run time.
 */
import './kafkajs-patches.js';

export { AssignerProtocol, CompressionTypes, Kafka, logLevel, PartitionAssigners } from 'kafkajs';
export type * from 'kafkajs';
