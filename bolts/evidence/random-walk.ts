import type { Contact } from './contact.js';
import { DistinctWindow, Touched } from './distinct-window.js';
import type { EntryBudget } from './entry-budget.js';
import type { RandomWalkRule } from './evidence-rule.js';

/**
 * Threshold random walk (Jung, Paxson, Berger, Balakrishnan, "Fast Portscan Detection Using
 * Sequential Hypothesis Testing", IEEE S&P 2004): each first contact of a source (a target and
 * service it has not contacted within the window) that succeeds multiplies the likelihood ratio by
 * theta1 / theta0, one that fails (no answer, or RST) by (1 - theta1) / (1 - theta0). The walk
 * declares a scanner at eta1 = P_D / P_F and benign at eta0 = (1 - P_D) / (1 - P_F). With the
 * paper's theta0 0.8, theta1 0.2, P_D 0.99, P_F 0.01, four failures in a row declare a scanner
 * (ln 4 = 1.39 a step against ln 99 = 4.60), whatever the time between them: the slow scans the
 * windowed detectors miss. Sums of logarithms, so the walk cannot overflow.
 *
 * The paper's first contact is to a new host. Here it is to a new host and service (protocol and
 * port): a slow vertical scan of one host is then a run of failed first contacts too (the lab's
 * 14-port scan at one port per 10 s, which no 5-minute window sees), while a client that comes
 * back to the same service, as every web or SSH client does, makes one first contact, not many.
 */
export interface WalkSteps {
  readonly onSuccess: number;
  readonly onFailure: number;
  readonly upper: number;
  readonly lower: number;
}

export function walkSteps(rule: RandomWalkRule): WalkSteps {
  const pd = rule.detectionProbability;
  const pf = rule.falsePositiveProbability;
  return {
    onSuccess: Math.log(rule.theta1 / rule.theta0),
    onFailure: Math.log((1 - rule.theta1) / (1 - rule.theta0)),
    upper: Math.log(pd / pf),
    lower: Math.log((1 - pd) / (1 - pf)),
  };
}

/** What one step said: whether the contact was a failed first contact, and whether the walk now says scanner. */
export interface WalkStep {
  readonly isFailedFirstContact: boolean;
  readonly isScanner: boolean;
}

const STEPS: readonly WalkStep[] = [
  { isFailedFirstContact: false, isScanner: false },
  { isFailedFirstContact: false, isScanner: true },
  { isFailedFirstContact: true, isScanner: false },
  { isFailedFirstContact: true, isScanner: true },
];
const stepOf = (isFailedFirstContact: boolean, isScanner: boolean): WalkStep => STEPS[(isFailedFirstContact ? 2 : 0) + (isScanner ? 1 : 0)]!;

export class RandomWalkState {
  /** Targets and services contacted (Contact.pair). */
  private readonly contacted = new DistinctWindow<number | string>();
  /** Log of the likelihood ratio. */
  private logRatio = 0;

  /**
   * Walks one step on a first contact. Returns whether this contact was a failed first contact
   * and whether the walk now says scanner. A walk that reaches benign starts again at zero (the
   * paper stops testing that source; a stream must still catch a scan that starts later).
   */
  observe(c: Contact, watermarkSecs: number, rule: RandomWalkRule, steps: WalkSteps, budget: EntryBudget): WalkStep {
    this.contacted.expire(watermarkSecs - rule.windowSecs, budget);
    if (this.contacted.touch(c.pair, c.timeSecs, budget) !== Touched.Added) return stepOf(false, this.logRatio >= steps.upper);
    this.logRatio += c.isFailed ? steps.onFailure : steps.onSuccess;
    if (this.logRatio <= steps.lower) this.logRatio = 0;
    return stepOf(c.isFailed, this.logRatio >= steps.upper);
  }

  expire(watermarkSecs: number, rule: RandomWalkRule, budget: EntryBudget): void {
    this.contacted.expire(watermarkSecs - rule.windowSecs, budget);
    if (this.contacted.size === 0) this.logRatio = 0;
  }

  /** Distinct first contacts within the window, and when the oldest was made. */
  get firstContacts(): { count: number; sinceSecs: number | undefined } {
    return { count: this.contacted.size, sinceSecs: this.contacted.oldestSecs };
  }

  get isEmpty(): boolean {
    return this.contacted.size === 0;
  }
}
