/** near.ts on its own: parsing `near`, the bounding box (antimeridian, poles), the distance. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FhirError } from '../../src/fhir/outcome.js';
import { boundingBox, haversineKm, parseNear } from '../../src/services/care-services/near.js';

test('parseNear reads lat|lon|distance|unit, with km and 10 km as defaults', () => {
  assert.deepEqual(parseNear('-13.96|33.79|5|km', 1000), { latitude: -13.96, longitude: 33.79, km: 5 });
  assert.deepEqual(parseNear('-13.96|33.79|500|m', 1000), { latitude: -13.96, longitude: 33.79, km: 0.5 });
  assert.equal(parseNear('0|0|1|mi', 1000).km, 1.609344);
  assert.equal(parseNear('0|0', 1000).km, 10);
  assert.equal(parseNear('0|0|3', 1000).km, 3);
});

test('parseNear refuses what is not a point on Earth or a sensible distance, as 400s', () => {
  for (const bad of ['', '1', 'a|b', '91|0', '-90.0001|0', '0|180.5', '0|-181', '0|0|0', '0|0|-2', '0|0|x', '0|0|1|furlong', '0|0|1001', '0|0|1|km|x', 'Infinity|0', '0x10|0']) {
    assert.throws(() => parseNear(bad, 1000), (error: unknown) => error instanceof FhirError && error.status === 400, bad);
  }
});

test('the haversine distance of one degree of latitude is 111.195 km', () => {
  assert.ok(Math.abs(haversineKm(0, 0, 1, 0) - 111.195) < 0.001);
  assert.ok(Math.abs(haversineKm(10, 179.9, 10, -179.9) - 21.9) < 0.1, 'across the antimeridian');
});

test('the bounding box holds every point within the distance, wrapping at the antimeridian and opening at the poles', () => {
  const box = boundingBox({ latitude: 0, longitude: 0, km: 111.195 });
  assert.ok(Math.abs(box.maxLat - 1) < 1e-6 && Math.abs(box.minLat + 1) < 1e-6);
  const wrapped = boundingBox({ latitude: 10, longitude: 179.95, km: 20 });
  assert.equal(wrapped.lon.length, 2, 'split in two across 180');
  assert.ok(wrapped.lon.some(([west, east]) => west <= -179.9 && east >= -179.9));
  assert.deepEqual(boundingBox({ latitude: 89.95, longitude: 10, km: 20 }).lon, [[-180, 180]]);
  // Every point exactly at the distance, in every direction, lies inside the box.
  const centre = { latitude: -60, longitude: 100, km: 300 };
  const inside = boundingBox(centre);
  for (let bearing = 0; bearing < 360; bearing += 15) {
    const d = centre.km / 6371.0088;
    const b = (bearing * Math.PI) / 180;
    const lat1 = (centre.latitude * Math.PI) / 180;
    const lat2 = Math.asin(Math.sin(lat1) * Math.cos(d) + Math.cos(lat1) * Math.sin(d) * Math.cos(b));
    const lon2 = centre.longitude + (Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(lat1), Math.cos(d) - Math.sin(lat1) * Math.sin(lat2)) * 180) / Math.PI;
    const lat = (lat2 * 180) / Math.PI;
    assert.ok(lat >= inside.minLat - 1e-9 && lat <= inside.maxLat + 1e-9, `latitude at bearing ${bearing}`);
    assert.ok(inside.lon.some(([west, east]) => lon2 >= west - 1e-9 && lon2 <= east + 1e-9), `longitude at bearing ${bearing}`);
  }
});
