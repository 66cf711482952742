// One attempt to reach a Kafka broker: connect an admin client and list topics.
// Exit 0 when the broker answers, 1 when it does not (the reason goes to stderr),
// 2 when kafkajs itself is missing. kafka-up.sh calls this once a second while it waits,
// so every timeout here is short and nothing is retried.
//
// Usage: node scripts/kafka/probe-broker.mjs [host:port[,host:port...]]

let kafkajs;
try {
  kafkajs = await import('kafkajs');
} catch (error) {
  console.error(`probe-broker: cannot load kafkajs (${error.message}); run "npm ci" first`);
  process.exit(2);
}

const { Kafka, logLevel } = kafkajs;
const brokers = (process.argv[2] ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({
  clientId: 'themis-kafka-probe',
  brokers,
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1_000,
  requestTimeout: 3_000,
  retry: { retries: 0 },
});
const admin = kafka.admin();

try {
  await admin.connect();
  await admin.listTopics();
  await admin.disconnect();
  process.exit(0);
} catch (error) {
  console.error(`probe-broker: ${brokers.join(',')} did not answer: ${error.message}`);
  await admin.disconnect().catch((disconnectError) => {
    console.error(`probe-broker: disconnect also failed: ${disconnectError.message}`);
  });
  process.exit(1);
}
