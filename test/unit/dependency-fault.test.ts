import { DatabaseError } from 'pg';
import { describe, expect, it } from 'vitest';
import { redisError } from '../../bolts/intel/errors.js';
import { OutputError } from '../../bolts/output/errors.js';
import { pgError } from '../../bolts/postgres/errors.js';
import { kafkaFault, postgresFault, redisFault } from '../../bolts/resilience/dependency-fault.js';

function serverError(sqlState: string, message: string): DatabaseError {
  const err = new DatabaseError(message, message.length, 'error');
  err.code = sqlState;
  return err;
}

function errno(code: string, message = ''): Error {
  return Object.assign(new Error(message), { code });
}

/** As the output bolt sees it: wrapped by the writer. */
const written = (cause: unknown) => pgError('write 500 scored flows (flow ids 1-500)', '127.0.0.1:5432/themis', cause);

/** A kafkajs protocol error of this broker type, wrapped as kafkajs and our sink wrap it. */
function kafkaError(type: string | undefined, message: string): OutputError {
  const inner = Object.assign(new Error(message), type === undefined ? {} : { type, retriable: false });
  const exhausted = Object.assign(new Error(message), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause: inner });
  return new OutputError(`writing 3 records failed: ${message}`, { code: 'THEMIS_KAFKA_PRODUCE', topics: ['t'], brokers: ['b:9092'], records: 3, retriable: false, cause: exhausted });
}

describe('postgresFault', () => {
  it.each([
    ['08006', 'connection failure'],
    ['08001', 'could not connect'],
    ['57P01', 'terminating connection due to administrator command'],
    ['57P02', 'crash shutdown'],
    ['57P03', 'the database system is starting up'],
    ['53300', 'sorry, too many clients already'],
    ['55000', 'database "themis" is not currently accepting connections'],
    ['40001', 'could not serialize access'],
    ['40P01', 'deadlock detected'],
    ['42P01', 'relation "scored_flow" does not exist'],
  ])('calls SQLSTATE %s (%s) unavailable: the database state, not the flow', (state, message) => {
    expect(postgresFault(written(serverError(state, message)))).toBe('unavailable');
  });

  it.each([
    ['23514', 'new row violates check constraint'],
    ['23505', 'duplicate key value violates unique constraint'],
    ['22003', 'value out of range for type integer'],
    ['22P02', 'invalid input syntax for type inet'],
    ['54000', 'index row size exceeds maximum'],
  ])('calls SQLSTATE %s (%s) bad data', (state, message) => {
    expect(postgresFault(written(serverError(state, message)))).toBe('bad-data');
  });

  it('calls socket and pool failures unavailable', () => {
    expect(postgresFault(written(errno('ECONNREFUSED')))).toBe('unavailable');
    expect(postgresFault(written(errno('ECONNRESET', 'read ECONNRESET')))).toBe('unavailable');
    expect(postgresFault(written(new Error('Connection terminated unexpectedly')))).toBe('unavailable');
    expect(postgresFault(written(new Error('timeout exceeded when trying to connect')))).toBe('unavailable');
    expect(postgresFault(new AggregateError([errno('ECONNREFUSED')], ''))).toBe('unavailable');
  });

  it('calls a value the client cannot encode bad data', () => {
    expect(postgresFault(written(new TypeError('Do not know how to serialize a BigInt')))).toBe('bad-data');
    expect(postgresFault(written(new RangeError('Invalid time value')))).toBe('bad-data');
  });
});

describe('redisFault', () => {
  it('calls connection errors, timeouts and busy replies unavailable', () => {
    const look = (cause: unknown) => redisError('look up 12 IPs', '127.0.0.1:6379/14', cause);
    expect(redisFault(look(errno('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6379')))).toBe('unavailable');
    expect(redisFault(look(new Error('Command timed out')))).toBe('unavailable');
    expect(redisFault(look(new Error('Connection is closed.')))).toBe('unavailable');
    expect(redisFault(look(Object.assign(new Error('Reached the max retries per request limit (which is 1).'), { name: 'MaxRetriesPerRequestError' })))).toBe('unavailable');
    expect(redisFault(look(new Error('LOADING Redis is loading the dataset in memory')))).toBe('unavailable');
  });

  it('calls a key of the wrong type bad data', () => {
    expect(redisFault(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe('bad-data');
  });
});

describe('kafkaFault', () => {
  it('calls records the broker refuses for their content bad data, under every wrapper', () => {
    expect(kafkaFault(kafkaError('MESSAGE_TOO_LARGE', 'The request included a message larger than the max message size the server will accept'))).toBe('bad-data');
    expect(kafkaFault(kafkaError('INVALID_RECORD', 'This record has failed the validation on broker'))).toBe('bad-data');
  });

  it('calls connection loss, leader changes, exhausted retries and missing topics unavailable', () => {
    expect(kafkaFault(kafkaError(undefined, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'))).toBe('unavailable');
    expect(kafkaFault(kafkaError('NOT_LEADER_FOR_PARTITION', 'This server is not the leader for that topic-partition'))).toBe('unavailable');
    expect(kafkaFault(kafkaError('UNKNOWN_TOPIC_OR_PARTITION', 'This server does not host this topic-partition'))).toBe('unavailable');
    expect(kafkaFault(kafkaError('TOPIC_AUTHORIZATION_FAILED', 'Not authorized to access topics'))).toBe('unavailable');
  });
});
