import type { Flow } from '../flow.js';
import type { IpAddress } from '../lookup/ip-address.js';
import type { MmdbReader } from '../lookup/mmdb-reader.js';

interface CityRecord {
  readonly city?: { readonly names?: { readonly en?: string } };
  readonly country?: { readonly iso_code?: string; readonly names?: { readonly en?: string } };
  readonly location?: { readonly latitude?: number; readonly longitude?: number };
}

interface Geo {
  city: string | null;
  country: string | null;
  countryCode: string | null;
  latitude: number | null;
  longitude: number | null;
}

const UNKNOWN: Geo = Object.freeze({ city: null, country: null, countryCode: null, latitude: null, longitude: null });

function geoOf(db: MmdbReader, ip: IpAddress): Geo {
  const r = db.lookup<CityRecord>(ip);
  if (!r) return UNKNOWN;
  return {
    city: r.city?.names?.en ?? null,
    country: r.country?.names?.en ?? null,
    countryCode: r.country?.iso_code ?? null,
    latitude: r.location?.latitude ?? null,
    longitude: r.location?.longitude ?? null,
  };
}

/**
 * Geolocation of both sides from a GeoLite2-City-layout database (reference §5.6). Anything
 * unknown is null — the original used "unknown", two spaces or null depending on the path
 * (§15 item 9); one representation is simpler to query.
 */
export function enrichGeo(flow: Flow, db: MmdbReader): void {
  const s = geoOf(db, flow.srcIp);
  flow.srcCity = s.city;
  flow.srcCountry = s.country;
  flow.srcCountryCode = s.countryCode;
  flow.srcLatitude = s.latitude;
  flow.srcLongitude = s.longitude;
  const d = geoOf(db, flow.dstIp);
  flow.dstCity = d.city;
  flow.dstCountry = d.country;
  flow.dstCountryCode = d.countryCode;
  flow.dstLatitude = d.latitude;
  flow.dstLongitude = d.longitude;
}
