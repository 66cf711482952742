#!/usr/bin/env node
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { dbCommand } from './commands/db.js';
import { formatListenAddress } from '../spouts/collector/listen-address.js';
import { addCollectorOptions, checkListenAddress, parseCollectorFlags, type CollectorFlags } from './collector-options.js';
import { convertToSpool, planFileInput, type ConvertedInput, type FileInputPlan } from './flow-file-input.js';
import { IngestError } from '../spouts/ingest/errors.js';
import { checkDataFiles, checkOutputDir } from '../bolts/components/preflight.js';
import type { ThemisArgs, ThemisServices } from '../bolts/components/themis-args.js';
import { validateConfig, type ThemisConfig } from '../bolts/themis-config.js';
import { parseParallelismFile, parseSubmitArguments } from '../topology/deployment.js';
import { DEFAULT_WORKER_HEAP_MB, outputTopics, startThemis, type FlowInput } from '../topology/run-themis.js';
import type { Parallelism } from '../topology/themis-topology.js';
import { isEntryPoint } from './is-entry-point.js';
import { StdinFifo } from './stdin-fifo.js';
import { superviseRun } from './supervise-run.js';

/** The package root: two levels up from dist/bin or one from bin/ in development. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Refused arguments or files: exit 2, one line per problem; `causes` are shown with --verbose. */
function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
}

class UsageError extends Error {
  constructor(
    message: string,
    readonly causes: readonly unknown[] = [],
  ) {
    super(message);
  }
}

let verbose = false;

/** Stopped by a signal with flows read and not finished (as superviseRun). */
const EXIT_STOPPED = 3;

function intOption(name: string, min: number, max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new InvalidArgumentError(`${name} must be an integer ${min}-${max}, got ${JSON.stringify(text)}`);
    return Number(text);
  };
}

function heapOption(text: string): number {
  if (!/^\d+$/.test(text) || (Number(text) !== 0 && Number(text) < 64) || Number(text) > 1_048_576) {
    throw new InvalidArgumentError(`--worker-heap-mb must be 0 (V8's own limit) or an integer 64-1048576, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${what} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} ${path}: not valid JSON (${(err as Error).message})`);
  }
}

function describeInput(input: FlowInput): string {
  if (input.kind === 'file') return input.label ?? input.path;
  if (input.kind === 'collector') return `NetFlow v5/v9 and IPFIX on UDP ${formatListenAddress(input.listen)}, flow ids from ${input.firstId}`;
  return `kafka ${input.brokers.join(',')} topic ${input.topic}`;
}

interface SubmitOptions extends CollectorFlags {
  input?: string;
  inputFormat?: string;
  firstId?: string;
  nfdumpUtcOffset?: string;
  outputDir: string;
  append?: boolean;
  dataDir?: string;
  config?: string;
  parallelism?: string;
  metricsPort: number | false;
  metricsHost: string;
  workers: number;
  workerHeapMb?: number;
  kafka?: string;
  inputTopic?: string;
  redis?: string;
  redisDb?: number;
  postgres?: string;
  postgresSchema?: string;
  persist?: boolean;
  postgresRefreshSecs: number;
  maxRetries: number;
  stopAtEnd?: boolean;
  fromBeginning?: boolean;
  inputUnkeyed?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

async function submit(positional: string[], opts: SubmitOptions): Promise<number> {
  const root = packageRoot();
  const problems: string[] = [];
  const parsed = parseSubmitArguments(positional);
  if ('errors' in parsed) problems.push(...parsed.errors);

  let config: ThemisConfig | null = null;
  const userConfig = opts.config ? readJsonFile(opts.config, '--config') : {};
  const validated = validateConfig(userConfig);
  if ('errors' in validated) problems.push(...validated.errors.map((e) => `--config ${opts.config}: ${e}`));
  else config = validated.config;

  let overrides: Record<string, Parallelism> = {};
  if (opts.parallelism) {
    const p = parseParallelismFile(readJsonFile(opts.parallelism, '--parallelism'), opts.parallelism);
    if ('errors' in p) problems.push(...p.errors);
    else overrides = p.value;
  }

  const dataDir = resolve(opts.dataDir ?? resolve(root, config?.files.dataDir ?? 'data_sources'));
  if (!isDirectory(dataDir)) problems.push(`--data-dir ${dataDir}: not a directory`);

  const kafkaBrokers = (opts.kafka ?? process.env['THEMIS_KAFKA_BROKERS'])?.split(',').map((s) => s.trim()).filter(Boolean);
  let input: FlowInput | undefined;
  let plan: FileInputPlan | undefined;
  const maxRetries = opts.maxRetries;
  const isCollecting = opts.listen !== undefined;
  if (!isCollecting && (opts.recvBufferBytes ?? opts.bufferDatagrams ?? opts.scaleBySampling) !== undefined) {
    problems.push('--recv-buffer-bytes, --buffer-datagrams and --scale-by-sampling apply only to --listen');
  }
  if (isCollecting) {
    for (const [flag, value] of [['--input', opts.input], ['--input-format', opts.inputFormat], ['--nfdump-utc-offset', opts.nfdumpUtcOffset]] as const) {
      if (value !== undefined) problems.push(`${flag} applies to file input, and the flows come from exporters (--listen ${opts.listen}): give one or the other`);
    }
    const collector = parseCollectorFlags(opts, Date.now(), problems);
    const inUse = collector === undefined ? null : await checkListenAddress(collector.listen);
    if (inUse !== null) problems.push(inUse);
    if (collector !== undefined) input = { kind: 'collector', maxRetries, ...collector };
  } else if (opts.input === undefined && kafkaBrokers && kafkaBrokers.length > 0) {
    input = {
      kind: 'kafka',
      brokers: kafkaBrokers,
      topic: opts.inputTopic ?? config?.topics.input ?? 'netflow-json',
      // The consumer group is named after the instance, so a redeploy resumes where it stopped (§15 item 33).
      groupId: `themis-${'value' in parsed ? parsed.value.name : 'x'}`,
      maxRetries,
      ...(config === null ? {} : { commitIntervalMs: config.kafka.commitIntervalMs, sessionTimeoutMs: config.kafka.sessionTimeoutMs }),
      ...(opts.stopAtEnd ? { stopAtEndOffsets: true } : {}),
      ...(opts.fromBeginning ? { fromBeginning: true } : {}),
      ...(opts.inputUnkeyed ? { keyedByConversation: false } : {}),
    };
  } else {
    const path = opts.input ?? resolve(root, 'data_sources', 'sample-flows.jsonl');
    plan = await planFileInput({ ...opts, input: path }, Date.now(), problems);
    input = { kind: 'file', path: path === '-' ? path : resolve(path), maxRetries };
  }
  if (input?.kind === 'kafka') {
    for (const [flag, value] of [['--input-format', opts.inputFormat], ['--first-id', opts.firstId], ['--nfdump-utc-offset', opts.nfdumpUtcOffset]] as const) {
      if (value !== undefined) problems.push(`${flag} applies to --input, and the flows come from Kafka topic ${input.topic}`);
    }
  }

  const causes: unknown[] = [];
  if (config) {
    // The output directory and every data file, before any worker starts: one line per problem.
    const outputs = kafkaBrokers && kafkaBrokers.length > 0 ? [] : checkOutputDir(resolve(opts.outputDir));
    const dataFiles = !isDirectory(dataDir) ? [] : await checkDataFiles(dataDir, config.files, {
      postgres: (opts.postgres ?? process.env['THEMIS_POSTGRES_URL']) !== undefined,
      redis: (opts.redis ?? process.env['THEMIS_REDIS_URL']) !== undefined,
    });
    for (const p of [...outputs, ...dataFiles]) {
      problems.push(p.line);
      if (p.cause !== undefined) causes.push(p.cause);
    }
  }
  if (problems.length > 0 || !config || !('value' in parsed) || input === undefined) {
    throw new UsageError(problems.join('\n'), causes);
  }
  const services: ThemisServices = {
    ...(kafkaBrokers && kafkaBrokers.length > 0 ? { kafka: { brokers: kafkaBrokers, clientId: `themis-${parsed.value.name}` } } : {}),
    ...(opts.redis ?? process.env['THEMIS_REDIS_URL'] ? { redis: { url: (opts.redis ?? process.env['THEMIS_REDIS_URL'])!, db: opts.redisDb ?? config.redis.intelDb, cacheTtlMs: 10_000 } } : {}),
    ...(opts.postgres ?? process.env['THEMIS_POSTGRES_URL']
      ? { postgres: { url: (opts.postgres ?? process.env['THEMIS_POSTGRES_URL'])!, ...(opts.postgresSchema ? { schema: opts.postgresSchema } : {}), refreshSecs: opts.postgresRefreshSecs, persist: opts.persist === true } }
      : {}),
  };
  const args: ThemisArgs = { config, dataDir, outputDir: resolve(opts.outputDir), instance: parsed.value.name, services };
  const log = (msg: string) => {
    if (!opts.quiet) process.stderr.write(`${msg}\n`);
  };
  let converted: ConvertedInput | null = null;
  if (plan !== undefined && plan.format !== 'jsonl') {
    const result = await convert(plan, log);
    if (typeof result === 'number') return result;
    converted = result;
    log(converted.note);
    input = { kind: 'file', path: converted.spoolPath, label: converted.label, maxRetries };
  }
  // Standard input goes through a FIFO, made only once the options are valid.
  const stdin = converted === null && input.kind === 'file' && input.path === '-' ? new StdinFifo() : null;
  if (stdin) input = { kind: 'file', path: stdin.path, label: 'stdin', maxRetries };
  log(
    `themis: instance ${parsed.value.name}: executors ${parsed.value.executors}, tasks ${parsed.value.tasks}, max pending ${parsed.value.maxPending}, extra match ${parsed.value.extraMatch}, ${opts.workers} worker threads`,
  );
  log(`themis: input ${describeInput(input)}; output ${services.kafka ? 'kafka topics' : args.outputDir}`);

  const started = Date.now();
  const run = await startThemis({
    submit: parsed.value,
    args,
    input,
    workers: opts.workers,
    ...(opts.workerHeapMb !== undefined ? { workerHeapMb: opts.workerHeapMb } : {}),
    parallelism: overrides,
    appendOutputs: opts.append === true,
    metricsPort: opts.metricsPort === false ? null : opts.metricsPort,
    metricsHost: opts.metricsHost,
  });
  if (run.metricsServer) {
    const a = run.metricsServer.address();
    const base = `http://${opts.metricsHost}:${typeof a === 'object' && a ? a.port : opts.metricsPort}`;
    log(`themis: metrics on ${base}/metrics`);
    log(`themis: live page on ${base}/`);
  }
  const code = await superviseRun(run, {
    input,
    stdin,
    startedAtMs: started,
    stopTimeoutSecs: config.windows.messageTimeoutSecs,
    outputsNote: [converted?.note, services.kafka ? undefined : `themis: outputs in ${args.outputDir}: ${outputTopics(config).map((t) => `${t}.jsonl`).join(', ')}`]
      .filter((note) => note !== undefined)
      .join('\n') || null,
    log,
  });
  converted?.remove();
  if (code === 0 && converted !== null && converted.summary.sourceErrors.length > 0) {
    process.stderr.write(`themis-topology: the input could not be read completely (${converted.summary.sourceErrors.length} error(s) above)\n`);
    return 1;
  }
  return code;
}

/**
 * Converts nfdump data into the spool before the topology starts. Ctrl-C or SIGTERM stops the
 * conversion: nothing is scored, the spool is removed, and the exit code is 3 (stopped by a
 * signal with flows read and not finished). nfdump missing is a start problem (exit 2).
 */
async function convert(plan: Exclude<FileInputPlan, { format: 'jsonl' }>, log: (message: string) => void): Promise<ConvertedInput | number> {
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals): void => {
    stoppedBy = sig;
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const converted = await convertToSpool(plan, {
      env: process.env,
      stdin: process.stdin,
      log,
      onSourceError: (message) => process.stderr.write(`themis-topology: error: ${message}\n`),
      signal: stop.signal,
    });
    if (stoppedBy !== null) {
      converted.remove();
      process.stderr.write(`themis-topology: stopped by ${stoppedBy} while converting the input: no flow was scored\n`);
      return EXIT_STOPPED;
    }
    return converted;
  } catch (err) {
    if (err instanceof IngestError && err.code === 'THEMIS_NFDUMP_MISSING') throw new UsageError(`--input ${plan.path}: ${err.message}`, [err]);
    throw new Error(`cannot convert --input ${plan.path} into JSON lines: ${(err as Error).message}`, { cause: err });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function createProgram(): Command {
  const program = new Command('themis-topology').description('Themis: NetFlow scoring and tagging on a Storm-style topology engine').showHelpAfterError();
  const submitCommand = program
    .command('submit')
    .description('run the Themis topology: submit <executors> <tasks> <maxPending> <extraMatch> <name>')
    .argument('<executors>', 'executors (threads of work) per bolt')
    .argument('<tasks>', 'tasks (instances) per bolt')
    .argument('<maxPending>', 'max spout pending: incomplete flows per spout task')
    .argument('<extraMatch>', 'extra executors and tasks for match-flows')
    .argument('<name>', 'instance name, the label of every metric')
    .option(
      '--input <path|->',
      'flows: JSON lines, nfdump JSON, an nfcapd file, or a directory of nfcapd files (default: data_sources/sample-flows.jsonl, or Kafka when --kafka is given)',
    )
    .option('--input-format <format>', 'nfcapd, nfdump-json or jsonl (default: detected from the file; a directory is nfcapd, stdin jsonl)')
    .option('--first-id <n>', 'nfcapd and nfdump JSON input, and --listen: id of the first flow (default: epoch milliseconds at start × 1000)')
    .option('--nfdump-utc-offset <offset>', 'nfdump JSON input: zone the export printed its times in, as +hh:mm or -hh:mm (default +00:00)')
    .option('--output-dir <dir>', 'where the embedded outputs are written', './out')
    .option('--append', 'add to the output files of earlier runs instead of starting them empty')
    .option('--data-dir <dir>', 'the data sources (default: data_sources/ of the package)')
    .option('--config <file>', 'JSON of tunables over the defaults (scores, thresholds, windows, file and topic names)')
    .option('--parallelism <file>', 'JSON of { component: { executors, tasks } } for this deployment')
    .option('--metrics-port <n>', 'Prometheus endpoint port (0: any free port)', intOption('--metrics-port', 0, 65535), 9464)
    .option('--no-metrics-port', 'no Prometheus endpoint')
    .option('--metrics-host <host>', 'address the endpoint binds to', '127.0.0.1')
    .option('--workers <n>', 'worker threads', intOption('--workers', 1, 256), availableParallelism())
    .option(
      '--worker-heap-mb <n>',
      `old-generation heap cap of each worker thread, MB (default: ${DEFAULT_WORKER_HEAP_MB}; 0: V8's own limit, faster but about 40 % more resident memory); see README`,
      heapOption,
    )
    .option('--kafka <brokers>', 'Kafka brokers (host:port,...): flows from the input topic, outputs to topics (env THEMIS_KAFKA_BROKERS)')
    .option('--input-topic <topic>', 'input topic (default: config topics.input, netflow-json)')
    .option('--redis <url>', 'IntelMQ intel from Redis (env THEMIS_REDIS_URL)')
    .option('--redis-db <n>', 'Redis database of the intel hashes (default: config redis.intelDb, 14)', intOption('--redis-db', 0, 255))
    .option('--postgres <url>', 'known services and suspect countries from PostgreSQL (env THEMIS_POSTGRES_URL)')
    .option('--postgres-schema <name>', 'PostgreSQL schema of the Themis tables')
    .option('--persist', 'also write scored flows and their tags to PostgreSQL')
    .option('--postgres-refresh-secs <n>', 'seconds between reloads of the known services and suspect countries from PostgreSQL', intOption('--postgres-refresh-secs', 1, 86_400), 60)
    .option('--stop-at-end', 'with Kafka input: stop once the topic is consumed up to the offsets it had at start')
    .option('--from-beginning', 'with Kafka input and no committed offsets: start at the earliest offset, not the latest')
    .option(
      '--input-unkeyed',
      'with Kafka input: the topic is not keyed by conversation (not written by themis-ingest), so the flows are spread over the threads by conversation before matching',
    )
    .option('--max-retries <n>', 'replays of a failing flow before it goes to ignored-flows', intOption('--max-retries', 1, 1000), 5)
    .option('--quiet', 'no progress output')
    .option('--verbose', 'with a refused file or option, also print the error behind each problem with its stack trace');
  // --first-id is declared above: it serves nfdump input and --listen alike.
  addCollectorOptions(submitCommand, 'collect NetFlow v5/v9 and IPFIX from exporters on this UDP address (IPv6: [::]:2055) instead of reading --input or Kafka', {
    withFirstId: false,
  }).action(async (executors: string, tasks: string, maxPending: string, extraMatch: string, name: string, opts: SubmitOptions) => {
      verbose = opts.verbose === true;
      process.exitCode = await submit([executors, tasks, maxPending, extraMatch, name], opts);
    });
  program.addCommand(dbCommand());
  return program;
}

if (isEntryPoint(import.meta.url)) {
  createProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`themis-topology: ${err.message.split('\n').join('\nthemis-topology: ')}\n`);
        if (verbose) for (const cause of err.causes) process.stderr.write(`${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`);
        process.exit(2);
      }
      process.stderr.write(`themis-topology: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
