import type { Flow } from '../flow.js';
import type { MmdbReader } from '../lookup/mmdb-reader.js';

interface AsnRecord {
  readonly autonomous_system_number?: number;
}

/**
 * Sets srcAs/dstAs from a GeoLite2-ASN-layout database (reference §5.2); 0 when the address is
 * in no network. The address was parsed once at the edge; this walks the tree from its bits.
 */
export function enrichAsn(flow: Flow, db: MmdbReader): void {
  flow.srcAs = db.lookup<AsnRecord>(flow.srcIp)?.autonomous_system_number ?? 0;
  flow.dstAs = db.lookup<AsnRecord>(flow.dstIp)?.autonomous_system_number ?? 0;
}
