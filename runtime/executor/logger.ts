import type { Logger } from '../contracts.js';

/** Structured JSON logs on stderr; errors are rate-limited per logger so bad input cannot flood them. */
export function makeLogger(base: Record<string, unknown>): Logger {
  let errors = 0;
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
  };
  return {
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => {
      errors++;
      if (errors <= 20 || errors % 10_000 === 0) write('error', msg, errors > 20 ? { ...fields, errorsSoFar: errors } : fields);
    },
  };
}
