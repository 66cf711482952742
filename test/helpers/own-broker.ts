import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './deployment.js';

const run = promisify(execFile);

/**
 * A Kafka broker of one test file's own, on other ports and with its own state directory under
 * the temp dir, started and stopped by scripts/kafka-up.sh and kafka-down.sh (THEMIS_KAFKA_PORT,
 * THEMIS_KAFKA_CONTROLLER_PORT, THEMIS_KAFKA_STATE_DIR), with the jars of .kafka/libs. A test
 * may stop it: the shared broker on 9092, which other tests use, is never touched.
 */
export class OwnBroker {
  readonly brokers: string[];
  private readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly stateDir: string,
    port: number,
    controllerPort: number,
  ) {
    this.brokers = [`127.0.0.1:${port}`];
    this.env = { ...process.env, THEMIS_KAFKA_STATE_DIR: stateDir, THEMIS_KAFKA_PORT: String(port), THEMIS_KAFKA_CONTROLLER_PORT: String(controllerPort) };
  }

  /** Formats a fresh state directory and starts the broker on it. */
  static async start(port: number, controllerPort: number): Promise<OwnBroker> {
    const broker = new OwnBroker(mkdtempSync(join(tmpdir(), `themis-broker-${port}-`)), port, controllerPort);
    await broker.up();
    return broker;
  }

  /** Starts the broker on its state directory (the same data as before a `down`); resolves once it answers. */
  async up(): Promise<void> {
    await this.script('kafka-up.sh');
  }

  /** SIGTERM to the broker's JVM (a controlled shutdown), SIGKILL after 30 s; resolves once it has exited. */
  async down(): Promise<void> {
    await this.script('kafka-down.sh');
  }

  /** Stops the broker and deletes its state directory. */
  async remove(): Promise<void> {
    try {
      await this.down();
    } finally {
      rmSync(this.stateDir, { recursive: true, force: true });
    }
  }

  private async script(name: string): Promise<void> {
    try {
      await run('bash', [join(ROOT, 'scripts', name)], { env: this.env, timeout: 120_000 });
    } catch (cause) {
      const e = cause as { stdout?: string; stderr?: string; message: string };
      throw new Error(`scripts/${name} for the broker on ${this.brokers.join(',')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause });
    }
  }
}
