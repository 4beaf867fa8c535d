/**
 * The mCSD Location Distance Option: `Location?near=latitude|longitude|distance|unit`.
 *
 * Positions are indexed by an expression index on the engine's `resources` table (migrations.ts:
 * latitude, longitude of live Locations), so a search is a bounding-box range scan on that index
 * followed by the exact great-circle (haversine) distance of the few rows inside the box. Plain
 * btree and float8 arithmetic: the same on PGlite and PostgreSQL, no PostGIS. Matches are ordered
 * by distance, nearest first, unless the search has its own `_sort`.
 */
import type { Location } from '@medplum/fhirtypes';
import type { CustomFilter } from '../../fhir/search/parse.js';
import type { BuildContext } from '../../fhir/search/sql.js';
import type { SpecialSearch } from '../../fhir/search-parameters.js';
import { badRequest } from '../../fhir/outcome.js';

/** The extension on a `near` match's entry.search giving its distance from the point. */
export const LOCATION_DISTANCE = 'http://hl7.org/fhir/StructureDefinition/location-distance';
/** Mean Earth radius (IUGG), km. */
const EARTH_RADIUS_KM = 6371.0088;
const KM_PER_DEGREE = (Math.PI * EARTH_RADIUS_KM) / 180;
/** When the client gives no distance (FHIR leaves the default to the server). */
export const DEFAULT_NEAR_KM = 10;

/** UCUM units a distance may be given in, as kilometres per unit. */
const UNITS: Record<string, number> = { km: 1, m: 0.001, mi: 1.609344, '[mi_i]': 1.609344 };

/** The SQL of a stored position: the same expressions as the index (migrations.ts), so it is used. */
export const LATITUDE_SQL = (alias?: string): string => `((${alias ? `${alias}.` : ''}content->'position'->>'latitude')::float8)`;
export const LONGITUDE_SQL = (alias?: string): string => `((${alias ? `${alias}.` : ''}content->'position'->>'longitude')::float8)`;

export interface NearQuery {
  latitude: number;
  longitude: number;
  km: number;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Parses `lat|lon|distance|unit` (distance and unit optional), refusing anything out of range. */
export function parseNear(value: string, maxKm: number): NearQuery {
  const parts = value.split('|');
  const example = 'near=latitude|longitude|distance|unit, e.g. near=-13.96|33.79|10|km';
  if (parts.length < 2 || parts.length > 4) throw badRequest(`near "${value.slice(0, 80)}" must be ${example}`, 'FHIR_BAD_SEARCH');
  const [latText, lonText, distanceText = '', unitText = ''] = parts.map((part) => part.trim()) as [string, string, string?, string?];
  const number = (text: string, what: string): number => {
    if (!NUMBER.test(text)) throw badRequest(`near: ${what} "${text.slice(0, 40)}" is not a number (${example})`, 'FHIR_BAD_SEARCH');
    return Number(text);
  };
  const latitude = number(latText, 'latitude');
  const longitude = number(lonText, 'longitude');
  if (latitude < -90 || latitude > 90) throw badRequest(`near: latitude ${latText} is out of range (-90 to 90)`, 'FHIR_BAD_SEARCH');
  if (longitude < -180 || longitude > 180) throw badRequest(`near: longitude ${lonText} is out of range (-180 to 180)`, 'FHIR_BAD_SEARCH');
  const unit = unitText || 'km';
  const perUnit = UNITS[unit];
  if (perUnit === undefined) throw badRequest(`near: unit "${unit.slice(0, 20)}" is not one of ${Object.keys(UNITS).join(', ')}`, 'FHIR_BAD_SEARCH');
  const km = distanceText ? number(distanceText, 'distance') * perUnit : DEFAULT_NEAR_KM;
  if (!(km > 0)) throw badRequest('near: the distance must be greater than 0', 'FHIR_BAD_SEARCH');
  if (km > maxKm) throw badRequest(`near: ${km} km is farther than this server searches (${maxKm} km, setting CARE_SERVICES_NEAR_MAX_KM)`, 'FHIR_BAD_SEARCH');
  return { latitude, longitude, km };
}

/** Great-circle distance in km between two points (the same formula as distanceSql). */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const a = Math.sin(((lat2 - lat1) * rad) / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(((lon2 - lon1) * rad) / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** The box around the point that holds every position within `km` (longitude may wrap). */
export function boundingBox(query: NearQuery): { minLat: number; maxLat: number; lon: Array<[number, number]> } {
  const dLat = query.km / KM_PER_DEGREE;
  const minLat = Math.max(-90, query.latitude - dLat);
  const maxLat = Math.min(90, query.latitude + dLat);
  // Longitude degrees shrink with cos(latitude); at the box's edge nearest a pole they are shortest.
  const edge = Math.max(Math.abs(minLat), Math.abs(maxLat));
  if (edge >= 89.9) return { minLat, maxLat, lon: [[-180, 180]] };
  const dLon = dLat / Math.cos((edge * Math.PI) / 180);
  if (dLon >= 180) return { minLat, maxLat, lon: [[-180, 180]] };
  const west = query.longitude - dLon;
  const east = query.longitude + dLon;
  if (west < -180) return { minLat, maxLat, lon: [[west + 360, 180], [-180, east]] };
  if (east > 180) return { minLat, maxLat, lon: [[west, 180], [-180, east - 360]] };
  return { minLat, maxLat, lon: [[west, east]] };
}

function distanceSql(ctx: BuildContext, query: NearQuery, alias: string): string {
  const lat = `${ctx.params.add(query.latitude)}::float8`;
  const lon = `${ctx.params.add(query.longitude)}::float8`;
  const la = LATITUDE_SQL(alias);
  const lo = LONGITUDE_SQL(alias);
  return `(2 * ${EARTH_RADIUS_KM} * asin(least(1, sqrt(power(sin(radians(${la} - ${lat}) / 2), 2)
    + cos(radians(${lat})) * cos(radians(${la})) * power(sin(radians(${lo} - ${lon}) / 2), 2)))))`;
}

export function nearFilter(query: NearQuery): CustomFilter {
  return {
    kind: 'custom',
    code: 'near',
    condition(ctx, alias) {
      const box = boundingBox(query);
      const p = (n: number): string => `${ctx.params.add(n)}::float8`;
      const lon = box.lon.map(([west, east]) => `${LONGITUDE_SQL(alias)} BETWEEN ${p(west)} AND ${p(east)}`).join(' OR ');
      // The literal type and NOT deleted match the partial index's predicate, so the planner can use it.
      return `${alias}.type = 'Location' AND NOT ${alias}.deleted
        AND ${LATITUDE_SQL(alias)} BETWEEN ${p(box.minLat)} AND ${p(box.maxLat)} AND (${lon})
        AND ${distanceSql(ctx, query, alias)} <= ${p(query.km)}`;
    },
    order: (ctx, alias) => distanceSql(ctx, query, alias),
    // Each match carries its distance from the point, as FHIR's Location `near` describes.
    matchExtensions(resource) {
      const position = (resource as Location).position;
      if (typeof position?.latitude !== 'number' || typeof position.longitude !== 'number') return undefined;
      const km = Math.round(haversineKm(query.latitude, query.longitude, position.latitude, position.longitude) * 1000) / 1000;
      return [{ url: LOCATION_DISTANCE, valueDistance: { value: km, unit: 'km', system: 'http://unitsofmeasure.org', code: 'km' } }];
    },
  };
}

/** `near` on Location, as the engine's special search. */
export function nearSearch(maxKm: number): SpecialSearch {
  return {
    resourceTypes: ['Location'],
    code: 'near',
    modifiers: [undefined],
    parse(values) {
      if (values.length !== 1) throw badRequest('near takes one point (latitude|longitude|distance|unit); repeat the search for others', 'FHIR_BAD_SEARCH');
      return nearFilter(parseNear(values[0]!, maxKm));
    },
  };
}
