import type { Flow, Tag } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import { scoreDarkIp } from '../rules/score-dark-ip.js';
import { scoreHttpBruteForce } from '../rules/score-http-brute-force.js';
import { scoreInsecurePorts } from '../rules/score-insecure-ports.js';
import { intelRemoteIp, scoreIntelMq } from '../rules/score-intelmq.js';
import { scoreIpList } from '../rules/score-ip-list.js';
import { scorePossibleScan } from '../rules/score-possible-scan.js';
import { scoreService } from '../rules/score-service.js';
import { scoreSshBruteForce } from '../rules/score-ssh-brute-force.js';
import { scoreSuspectCountry } from '../rules/score-suspect-country.js';
import { scoreUnknownPorts } from '../rules/score-unknown-ports.js';
import type { IntelEntry } from '../stores.js';
import type { ThemisConfig } from '../themis-config.js';
import type { Resources } from './resources.js';

/**
 * The synchronous scoring rules, by their config key; each becomes one bolt of a branch chain.
 * `intelMq` is synchronous only over the in-memory store (the embedded default); with Redis the
 * topology scores it in IntelMqBolt, a batch per round trip.
 */
export type ScorerName =
  | 'darkIp'
  | 'emergingThreats'
  | 'alienVault'
  | 'ndpiGood'
  | 'suspectCountry'
  | 'intelMq'
  | 'possibleScan'
  | 'sshBruteForce'
  | 'httpBruteForce'
  | 'tcpHostedService'
  | 'tcpRemoteService'
  | 'udpHostedService'
  | 'udpRemoteService'
  | 'insecureTcpPorts'
  | 'unknownTcpPorts'
  | 'insecureUdpPorts'
  | 'unknownUdpPorts';

export type Scorer = (flow: Flow) => Tag[];

/**
 * Binds a pure rule (bolts/rules) to its configuration and its look-up, loaded once per thread.
 * IP lists are membership tests on an MMDB tree walk from the already-parsed address.
 */
export async function makeScorer(name: ScorerName, config: ThemisConfig, resources: Resources): Promise<Scorer> {
  const r = config.rules;
  const f = config.files;
  const listed = async (file: string) => {
    const db = await resources.mmdb(file);
    return (ip: IpAddress) => db.lookupOffset(ip) !== -1;
  };
  switch (name) {
    case 'darkIp': {
      const isActive = await listed(f.activeHosts);
      return (flow) => scoreDarkIp(flow, r.darkIp, isActive);
    }
    case 'emergingThreats': {
      const isListed = await listed(f.emergingThreats);
      return (flow) => scoreIpList(flow, r.emergingThreats, isListed);
    }
    case 'alienVault': {
      const isListed = await listed(f.alienVault);
      return (flow) => scoreIpList(flow, r.alienVault, isListed);
    }
    case 'ndpiGood': {
      const isListed = await listed(f.ndpiGood);
      return (flow) => scoreIpList(flow, r.ndpiGood, isListed);
    }
    case 'suspectCountry': {
      const countries = await resources.countries();
      return (flow) => scoreSuspectCountry(flow, r.suspectCountry, countries);
    }
    case 'intelMq': {
      const intel = await resources.intel();
      if (!intel.lookupSync) throw new Error('the intelMq scorer needs the in-memory intel store (synchronous look-ups); with Redis, use IntelMqBolt');
      const lookup = intel.lookupSync.bind(intel);
      const found = new Map<string, readonly IntelEntry[]>();
      return (flow) => {
        const ip = intelRemoteIp(flow).text;
        const entries = lookup(ip);
        if (entries === undefined || entries.length === 0) return [];
        found.set(ip, entries);
        const tags = scoreIntelMq(flow, r.intelMq, found);
        found.clear();
        return tags;
      };
    }
    case 'possibleScan':
      return (flow) => scorePossibleScan(flow, r.possibleScan);
    case 'sshBruteForce':
      return (flow) => scoreSshBruteForce(flow, r.sshBruteForce);
    case 'httpBruteForce':
      return (flow) => scoreHttpBruteForce(flow, r.httpBruteForce);
    case 'tcpHostedService':
    case 'tcpRemoteService':
    case 'udpHostedService':
    case 'udpRemoteService': {
      const services = await resources.services();
      const rule = r[name];
      return (flow) => scoreService(flow, rule, services);
    }
    case 'insecureTcpPorts': {
      const ports = await resources.ports(f.tcpInsecurePorts);
      return (flow) => scoreInsecurePorts(flow, r.insecureTcpPorts, ports);
    }
    case 'insecureUdpPorts': {
      const ports = await resources.ports(f.udpInsecurePorts);
      return (flow) => scoreInsecurePorts(flow, r.insecureUdpPorts, ports);
    }
    case 'unknownTcpPorts': {
      const ports = await resources.ports(f.tcpKnownPorts);
      return (flow) => scoreUnknownPorts(flow, r.unknownTcpPorts, ports);
    }
    case 'unknownUdpPorts': {
      const ports = await resources.ports(f.udpKnownPorts);
      return (flow) => scoreUnknownPorts(flow, r.unknownUdpPorts, ports);
    }
  }
}
