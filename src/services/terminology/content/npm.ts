/**
 * FHIR NPM packages (`.tgz`, as packages2.fhir.org serves them): the JSON resources under
 * `package/`, read with a small tar reader (ustar headers, 512-byte blocks). The unpacked size is
 * bounded (TERMINOLOGY_MAX_PACKAGE_BYTES) and unpacked off the event loop, so a gzip bomb neither
 * exhausts memory nor stalls the server; a header whose size is not a plain octal number within
 * the archive is refused, so the reader always advances.
 */
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../../../common/limits.js';
import { badRequest } from '../../../fhir/outcome.js';

const gunzipAsync = promisify(gunzip);

function text(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

/** The entry size of a ustar header: octal digits only (padded with spaces/NULs), within what is left. */
function entrySize(header: Buffer, remaining: number, origin: string): number {
  const field = text(header, 124, 12).trim();
  if (field === '') return 0;
  if (!/^[0-7]{1,11}$/.test(field)) throw badRequest(`${origin}: a tar header has the size "${field.slice(0, 12)}", not an octal number`);
  const size = parseInt(field, 8);
  if (size > remaining) throw badRequest(`${origin}: a tar entry of ${size} bytes runs past the end of the archive`);
  return size;
}

/** The terminology resources of an NPM package archive. */
export async function resourcesOfNpmPackage(archive: Buffer, types: readonly string[], origin: string,
  maxUnpackedBytes = DEFAULT_LIMITS.terminologyMaxPackageBytes): Promise<Resource[]> {
  let tar: Buffer;
  try {
    tar = await gunzipAsync(archive, { maxOutputLength: maxUnpackedBytes });
  } catch (error) {
    throw badRequest(`${origin}: not a gzip archive within ${maxUnpackedBytes} bytes unpacked (TERMINOLOGY_MAX_PACKAGE_BYTES; ${(error as Error).message.slice(0, 100)})`);
  }
  const resources: Resource[] = [];
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    const name = text(header, 0, 100);
    if (!name) break; // the end-of-archive blocks
    const size = entrySize(header, tar.length - offset - 512, origin);
    const prefix = text(header, 345, 155);
    const path = prefix ? `${prefix}/${name}` : name;
    const type = String.fromCharCode(header[156] ?? 48);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512; // size >= 0: always moves on
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
