/**
 * The hand-worked ground truth for data_sources/sample-flows.jsonl (test/fixtures/
 * sample-flows-expected.json), shared by the embedded-default and the production-mode tests.
 */
export interface ExpectedTag {
  tag: string;
  polarity: 'good' | 'bad';
  score: number;
}
export interface ExpectedScored {
  flow_id: number;
  pair_flow_id: number | null;
  matched: boolean;
  flow_direction: string;
  initiator: string;
  protocol: number;
  src_ip: string;
  dst_ip: string;
  src_port: number;
  dst_port: number;
  packets_sent: number;
  bytes_sent: number;
  packets_recv: number;
  bytes_recv: number;
  tags: ExpectedTag[];
  goodness: number;
  badness: number;
}
export interface ExpectedIgnored {
  line?: number;
  flow_id?: number | null;
  stage: 'parse' | 'discard';
  reason?: string;
  reasonPattern?: string;
  flow_direction?: string | null;
}
export interface ExpectedScan {
  flow_id: number;
  scanner: string;
  target: string;
  port: number;
  packets_sent: number;
  records: Array<{ type: string; key: string }>;
}
