/**
 * FHIR NPM packages (`.tgz`, as packages2.fhir.org serves them): the JSON resources under
 * `package/`, read with a small tar reader (ustar headers, 512-byte blocks). The unpacked size is
 * bounded so a hostile archive cannot exhaust memory.
 */
import { gunzipSync } from 'node:zlib';
import type { Resource } from '@medplum/fhirtypes';
import { badRequest } from '../../../fhir/outcome.js';

const MAX_UNPACKED_BYTES = 512 * 1024 * 1024;

function text(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

/** The terminology resources of an NPM package archive. */
export function resourcesOfNpmPackage(archive: Buffer, types: readonly string[], origin: string): Resource[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive, { maxOutputLength: MAX_UNPACKED_BYTES });
  } catch (error) {
    throw badRequest(`${origin}: not a gzip archive within ${MAX_UNPACKED_BYTES} bytes unpacked (${(error as Error).message.slice(0, 100)})`);
  }
  const resources: Resource[] = [];
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    const name = text(header, 0, 100);
    if (!name) break; // the end-of-archive blocks
    const size = parseInt(text(header, 124, 12).trim() || '0', 8);
    const prefix = text(header, 345, 155);
    const path = prefix ? `${prefix}/${name}` : name;
    const type = String.fromCharCode(header[156] ?? 48);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if ((type !== '0' && type !== '\0') || !/^package\/[^/]+\.json$/.test(path) || path.endsWith('package.json') || path.endsWith('.index.json')) continue;
    let resource: Resource;
    try {
      resource = JSON.parse(body.toString('utf8')) as Resource;
    } catch {
      continue; // not a resource (examples folders and such are skipped anyway)
    }
    if (resource && types.includes(resource.resourceType)) resources.push(resource);
  }
  return resources;
}
