/**
 * FEBRL record-linkage sets (../shared/data/febrl, read in place, never copied) as FHIR Patients,
 * with the ground truth: records whose rec_id share the number (rec-N-org, rec-N-dup-K) are the
 * same person.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';

export const FEBRL_SSN_SYSTEM = 'urn:febrl:soc_sec_id';

export interface FebrlRecord { recId: string; person: string; patient: Patient }

export function febrlDirectory(repoRoot: string): string {
  return join(repoRoot, '..', 'shared', 'data', 'febrl');
}

export function readFebrl(directory: string, file: string): FebrlRecord[] {
  const lines = readFileSync(join(directory, file), 'utf8').split(/\r?\n/).filter((line) => line.trim());
  const header = lines[0].split(',').map((cell) => cell.trim());
  return lines.slice(1).map((line) => {
    const cells = line.split(',').map((cell) => cell.trim());
    const row = Object.fromEntries(header.map((name, index) => [name, cells[index] ?? '']));
    return { recId: row.rec_id, person: personOf(row.rec_id), patient: febrlPatient(row) };
  });
}

function personOf(recId: string): string {
  const match = /^rec-(\d+)-/.exec(recId);
  if (!match) throw new Error(`unexpected rec_id ${recId}`);
  return match[1];
}

/** One CSV row as the Patient a clinic would register; empty cells and impossible dates are left out. */
export function febrlPatient(row: Record<string, string>): Patient {
  const patient: Patient = { resourceType: 'Patient', id: row.rec_id };
  const given = row.given_name;
  const family = row.surname;
  if (given || family) patient.name = [{ ...(given ? { given: [given] } : {}), ...(family ? { family } : {}) }];
  const street = [row.street_number, row.address_1].filter(Boolean).join(' ');
  const line = [street, row.address_2].filter(Boolean);
  const address = {
    ...(line.length ? { line } : {}),
    ...(row.suburb ? { city: row.suburb } : {}),
    ...(row.postcode ? { postalCode: row.postcode } : {}),
    ...(row.state ? { state: row.state } : {}),
  };
  if (Object.keys(address).length) patient.address = [address];
  const birthDate = fhirDate(row.date_of_birth);
  if (birthDate) patient.birthDate = birthDate;
  if (row.soc_sec_id) patient.identifier = [{ system: FEBRL_SSN_SYSTEM, value: row.soc_sec_id }];
  return patient;
}

/** yyyymmdd to yyyy-mm-dd when it is a real calendar date. */
export function fhirDate(text: string | undefined): string | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(text ?? '');
  if (!match) return undefined;
  const [, year, month, day] = match.map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  return `${match[1]}-${match[2]}-${match[3]}`;
}
