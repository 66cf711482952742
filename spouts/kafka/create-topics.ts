import { Kafka, logLevel, type Admin } from './kafkajs.js';
import { KafkaAdminError } from './errors.js';
import { describeKafkaError, innermostKafkaError, isRetriableKafkaError, kafkaErrorType } from './kafka-client.js';

/** The topics the Themis topology reads and writes. */
export const DEFAULT_TOPICS: readonly string[] = [
  'netflow-json',
  'ignored-flows',
  'scored-flows',
  'scored-flows-detail',
  'scan-candidates',
];
export const DEFAULT_PARTITIONS = 4;
const DEFAULT_REPLICATION_FACTOR = 1;
/** 14 days. */
export const DEFAULT_RETENTION_MS = 14 * 24 * 60 * 60 * 1000;

export interface CreateTopicsOptions {
  brokers: string[];
  topics?: string[];
  partitions?: number;
  replicationFactor?: number;
  retentionMs?: number;
  clientId?: string;
}

export interface CreateTopicsResult {
  created: string[];
  /** Topics that were already there. They are left as they are: partitions and retention unchanged. */
  existing: string[];
}

/**
 * Creates each missing topic with the given partitions, replication and `retention.ms`, and waits
 * until its partitions have leaders. Topics are created one at a time so that a failure names its
 * topic and the outcome of the others is known. Every failure is thrown as a KafkaAdminError;
 * kafkajs itself logs nothing.
 */
export async function createTopics(options: CreateTopicsOptions): Promise<CreateTopicsResult> {
  const {
    brokers,
    topics = [...DEFAULT_TOPICS],
    partitions = DEFAULT_PARTITIONS,
    replicationFactor = DEFAULT_REPLICATION_FACTOR,
    retentionMs = DEFAULT_RETENTION_MS,
    clientId = 'themis-create-topics',
  } = options;
  const brokerList = brokers.join(',');
  const admin = new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING }).admin();

  try {
    await admin.connect();
  } catch (cause) {
    throw new KafkaAdminError(
      `cannot reach Kafka brokers ${brokerList} to create topics ${topics.join(', ')}: ${describeKafkaError(cause)}`,
      { code: 'THEMIS_KAFKA_CONNECT', brokers, retriable: true, cause },
    );
  }

  const result: CreateTopicsResult = { created: [], existing: [] };
  try {
    for (const topic of topics) {
      const isCreated = await createOneTopic(admin, topic, { partitions, replicationFactor, retentionMs }, brokers);
      (isCreated ? result.created : result.existing).push(topic);
    }
  } finally {
    await admin.disconnect();
  }
  return result;
}

interface TopicSettings {
  partitions: number;
  replicationFactor: number;
  retentionMs: number;
}

async function createOneTopic(
  admin: Admin,
  topic: string,
  settings: TopicSettings,
  brokers: readonly string[],
): Promise<boolean> {
  try {
    // Resolves false when the broker answers TOPIC_ALREADY_EXISTS.
    const isCreated = await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: settings.partitions,
          replicationFactor: settings.replicationFactor,
          configEntries: [{ name: 'retention.ms', value: String(settings.retentionMs) }],
        },
      ],
      // kafkajs' own wait retries only LEADER_NOT_AVAILABLE, but a KRaft broker answers
      // UNKNOWN_TOPIC_OR_PARTITION until the controller's record reaches its metadata cache.
      waitForLeaders: false,
    });
    if (isCreated) await waitForLeaders(admin, topic, settings.partitions);
    return isCreated;
  } catch (cause) {
    throw new KafkaAdminError(
      `creating topic "${topic}" (${settings.partitions} partitions, replication ${settings.replicationFactor}, ` +
        `retention.ms ${settings.retentionMs}) on Kafka brokers ${brokers.join(',')} failed: ${describeKafkaError(cause)}`,
      { code: 'THEMIS_KAFKA_CREATE_TOPIC', brokers, topic, retriable: isRetriableKafkaError(cause), cause },
    );
  }
}

const LEADER_WAIT_MS = 15_000;
const LEADER_POLL_MS = 100;
const NOT_YET_VISIBLE = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** Returns once every partition of the new topic has a leader, so the topic is usable on return. */
async function waitForLeaders(admin: Admin, topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = topics.find((candidate) => candidate.name === topic)?.partitions ?? [];
      if (found.length === partitions && found.every((partition) => partition.leader >= 0)) return;
    } catch (error) {
      if (!NOT_YET_VISIBLE.has(kafkaErrorType(innermostKafkaError(error)) ?? '')) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`the topic was created but its ${partitions} partitions had no leaders after ${LEADER_WAIT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, LEADER_POLL_MS));
  }
}
