import type { Kafka, Producer, ProducerConfig } from 'kafkajs';
import { KeyHashPartitioner } from './partitioner.js';
import { installFastProduceEncoder } from './produce-encoder.js';

/**
 * A kafkajs producer as every Themis producer is made (the output sink's and themis-ingest's):
 * topics are never created by producing, records are partitioned by KeyHashPartitioner, and the
 * thread's Produce requests are written by our encoder (produce-encoder.ts).
 */
export function themisProducer(kafka: Kafka, config: Omit<ProducerConfig, 'createPartitioner' | 'allowAutoTopicCreation'> = {}): Producer {
  installFastProduceEncoder();
  return kafka.producer({ ...config, allowAutoTopicCreation: false, createPartitioner: KeyHashPartitioner });
}
