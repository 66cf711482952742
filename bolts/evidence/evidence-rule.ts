/**
 * The evidence stage's tunables (`evidence.*` in the config; defaults and checks in
 * bolts/themis-config.ts, anchors in the README's "Evidence over time"). Times are event time:
 * the flows' own start seconds, never the wall clock, except `maxHoldMs`.
 */

export type AlertType = 'PORT_SCAN' | 'ADDRESS_SCAN' | 'RANDOM_WALK_SCAN' | 'PASSWORD_GUESSING' | 'POSSIBLE_COMPROMISE';

export interface PortScanRule {
  /** Zeek scan policy: 15 distinct ports of one target in 5 min. */
  readonly windowSecs: number;
  readonly minPorts: number;
  readonly score: number;
}

export interface AddressScanRule {
  /** Zeek scan policy: 25 distinct targets on one port in 5 min. */
  readonly windowSecs: number;
  readonly minTargets: number;
  readonly score: number;
}

export interface RandomWalkRule {
  /** How long a source's first contacts are remembered (a target seen again is no first contact). */
  readonly windowSecs: number;
  /** Jung et al. 2004: P(first contact succeeds | benign) and P(... | scanner). */
  readonly theta0: number;
  readonly theta1: number;
  /** Detection (P_D) and false-positive (P_F) goals: eta1 = P_D / P_F, eta0 = (1 - P_D) / (1 - P_F). */
  readonly detectionProbability: number;
  readonly falsePositiveProbability: number;
  readonly score: number;
}

export interface PasswordGuessingRule {
  /** Services guessed at: SSH, RDP, FTP, Telnet, SMTP submission, IMAP/POP, web ports. */
  readonly ports: readonly number[];
  /** Zeek SSH policy: 30 failed logins in 30 min. */
  readonly windowSecs: number;
  readonly minAttempts: number;
  /** A short connection: at most this many packets, both directions (SSHCure's brute-force band ends at 51). */
  readonly maxPackets: number;
  /** Similar size: packets within this many of each other (SSHCure compares packets per flow). */
  readonly packetTolerance: number;
  readonly score: number;
}

export interface CompromiseRule {
  /** A conversation to a guessed service with this many times the attempts' packets, bytes or duration. */
  readonly factor: number;
  /** ...and at least this long or this many packets, so a slightly larger failure is not one. */
  readonly minPackets: number;
  readonly score: number;
}

export interface EvidenceRule {
  /** Off by default: the stage holds conversations, which the latency bars have not been measured with. */
  readonly enabled: boolean;
  /**
   * A TCP contact whose initiator sent at most this many packets is a probe even when answered
   * (a SYN scan's SYN and RST to an open port); otherwise only failed contacts are probes.
   */
  readonly probeMaxPackets: number;
  /** How far behind the latest flow time a flow may start and still count (the watermark's lag). */
  readonly allowedLatenessSecs: number;
  /** How long, in event time, a conversation waits in the stage for evidence before it is written. */
  readonly holdSecs: number;
  /** ...and at most this long by the wall clock (an idle stream has no event time that advances). */
  readonly maxHoldMs: number;
  /** Conversations one task holds at most; when full, the oldest is written early. */
  readonly maxHeld: number;
  /** Sources one task tracks at most; when full, the least recently seen is forgotten. */
  readonly maxSources: number;
  /** Distinct entries (ports, targets, first contacts, attempts) one source holds at most. */
  readonly maxEntriesPerSource: number;
  /** ...and all the sources of one task together; when spent, the least recently seen are forgotten. */
  readonly maxEntries: number;
  /** Length of an alert's target, port and flow id lists. */
  readonly maxListed: number;
  readonly portScan: PortScanRule;
  readonly addressScan: AddressScanRule;
  readonly randomWalk: RandomWalkRule;
  readonly passwordGuessing: PasswordGuessingRule;
  readonly compromise: CompromiseRule;
}
