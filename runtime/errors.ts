/** Errors of the topology engine. Each carries a stable code and the operator's context. */

export interface RuntimeErrorContext {
  component?: string;
  task?: number;
  stream?: string;
  rootId?: number;
  retriable?: boolean;
  cause?: unknown;
}

export class RuntimeError extends Error {
  readonly code: string;
  readonly context: RuntimeErrorContext;
  constructor(code: string, message: string, context: RuntimeErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

/** A topology that cannot be submitted; `problems` lists every reason at once. */
export class TopologyValidationError extends RuntimeError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('THEMIS_TOPOLOGY_INVALID', `invalid topology:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/** A component's code threw; the tuple is failed and the task goes on. */
export class ComponentError extends RuntimeError {
  constructor(message: string, context: RuntimeErrorContext) {
    super('THEMIS_COMPONENT', message, context);
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}
