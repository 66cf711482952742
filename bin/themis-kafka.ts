#!/usr/bin/env node
/**
 * themis-kafka: Kafka chores for a Themis deployment.
 *
 *   themis-kafka create-topics [--brokers <list>] [--retention-days <n>] [--partitions <n>] [--topics <list>]
 *
 * Brokers come from --brokers, else THEMIS_KAFKA_BROKERS, else 127.0.0.1:9092 (the broker that
 * `npm run kafka:up` starts). Exit codes: 0 done, 1 Kafka failed, 2 invalid options.
 */
import { Command } from 'commander';
import {
  createTopics,
  DEFAULT_PARTITIONS,
  DEFAULT_RETENTION_MS,
  DEFAULT_TOPICS,
  type CreateTopicsOptions,
} from '../spouts/kafka/create-topics.js';
import { KafkaAdminError } from '../spouts/kafka/errors.js';
import { isEntryPoint } from './is-entry-point.js';
import { checkTopicName, parseBrokerList } from './kafka-options.js';

const DEFAULT_BROKERS = '127.0.0.1:9092';
const BROKERS_ENV = 'THEMIS_KAFKA_BROKERS';
const DAY_MS = 24 * 60 * 60 * 1000;
const EXIT_KAFKA_FAILED = 1;
const EXIT_INVALID_OPTIONS = 2;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly setExitCode: (code: number) => void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** What create-topics passes to createTopics once every flag has been checked. */
type CreateTopicsConfig = Required<Omit<CreateTopicsOptions, 'clientId' | 'replicationFactor'>>;

interface CreateTopicsFlags {
  brokers?: string;
  retentionDays?: string;
  partitions?: string;
  topics?: string;
}

export function createProgram(io: CliIo = processIo): Command {
  const program = new Command('themis-kafka').description('Kafka chores for a Themis deployment');
  program
    .command('create-topics')
    .description('create the Themis topics that are missing; existing topics are reported and left unchanged')
    .option('--brokers <list>', `comma-separated host:port list (default: $${BROKERS_ENV}, else ${DEFAULT_BROKERS})`)
    .option('--retention-days <n>', `retention.ms of new topics, in whole days (default: ${DEFAULT_RETENTION_MS / DAY_MS})`)
    .option('--partitions <n>', `partitions of new topics (default: ${DEFAULT_PARTITIONS})`)
    .option('--topics <list>', `comma-separated topic names (default: ${DEFAULT_TOPICS.join(',')})`)
    .action(async (flags: CreateTopicsFlags) => {
      const { options, problems } = parseCreateTopicsFlags(flags, io.env);
      if (options === undefined) {
        for (const problem of problems) io.err(`themis-kafka create-topics: ${problem}`);
        io.setExitCode(EXIT_INVALID_OPTIONS);
        return;
      }
      await runCreateTopics(options, io);
    });
  return program;
}

async function runCreateTopics(options: CreateTopicsConfig, io: CliIo): Promise<void> {
  try {
    const { created, existing } = await createTopics(options);
    const days = options.retentionMs / DAY_MS;
    io.out(`brokers: ${options.brokers.join(',')}`);
    io.out(
      `created (${options.partitions} partitions, retention.ms ${options.retentionMs} = ${days} days): ` +
        (created.length > 0 ? created.join(', ') : 'none'),
    );
    io.out(`existing, left unchanged: ${existing.length > 0 ? existing.join(', ') : 'none'}`);
  } catch (error) {
    if (!(error instanceof KafkaAdminError)) throw error;
    io.err(`themis-kafka create-topics: ${error.message} [${error.code}]`);
    if (error.code === 'THEMIS_KAFKA_CONNECT') {
      io.err(`  is the broker running? Locally: npm run kafka:up. Elsewhere: set --brokers or ${BROKERS_ENV}.`);
    }
    io.setExitCode(EXIT_KAFKA_FAILED);
  }
}

interface ParsedFlags {
  options?: CreateTopicsConfig;
  problems: string[];
}

/** Checks every flag and reports all problems together, so one run shows everything to fix. */
function parseCreateTopicsFlags(flags: CreateTopicsFlags, env: CliIo['env']): ParsedFlags {
  const problems: string[] = [];

  const brokersSource = flags.brokers !== undefined ? '--brokers' : env[BROKERS_ENV] ? BROKERS_ENV : 'default';
  const brokers = parseBrokerList(flags.brokers ?? (env[BROKERS_ENV] || DEFAULT_BROKERS), brokersSource, problems);

  const retentionDays = parseWholeNumber(flags.retentionDays, DEFAULT_RETENTION_MS / DAY_MS);
  if (retentionDays === undefined || retentionDays < 1 || !Number.isSafeInteger(retentionDays * DAY_MS)) {
    problems.push(`--retention-days (${flags.retentionDays}) must be a whole number of days, 1 or more`);
  }

  const partitions = parseWholeNumber(flags.partitions, DEFAULT_PARTITIONS);
  if (partitions === undefined || partitions < 1) {
    problems.push(`--partitions (${flags.partitions}) must be a whole number, 1 or more`);
  }

  const topics = flags.topics === undefined ? [...DEFAULT_TOPICS] : splitList(flags.topics);
  if (topics.length === 0) problems.push('--topics is empty; give one or more topic names, comma-separated');
  for (const topic of topics) checkTopicName(topic, '--topics entry', problems);
  const duplicates = topics.filter((topic, index) => topics.indexOf(topic) !== index);
  if (duplicates.length > 0) problems.push(`--topics names ${[...new Set(duplicates)].join(', ')} more than once`);

  if (problems.length > 0 || retentionDays === undefined || partitions === undefined) return { problems };
  return { options: { brokers, topics, partitions, retentionMs: retentionDays * DAY_MS }, problems };
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function parseWholeNumber(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback;
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
}

if (isEntryPoint(import.meta.url)) {
  await createProgram().parseAsync(process.argv);
}
