/**
 * The Kafka spout's lag gauges of each assigned partition (labels `topic`, `partition`), exported as
 * `themis_<name>`: messages not yet fetched (the high watermark less the next offset to fetch), and
 * not yet finished (the high watermark less the committed offset). A file of their own, so that the
 * live page can read them without loading the Kafka client.
 */
export const CONSUMER_LAG_GAUGE = 'kafka_consumer_lag_messages';
export const COMMITTED_LAG_GAUGE = 'kafka_committed_lag_messages';
