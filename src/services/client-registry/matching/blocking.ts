/**
 * Blocking keys: short strings per patient, stored in an indexed column, so a registration is
 * compared only with patients sharing a key. Several passes (e.g. phonetic family name + birth
 * year, given initial + family prefix + postcode, identifier) so one typo does not hide a match.
 */
import { createHash } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import { compileExtractor, type ValueExtractor } from './extract.js';
import { DEFAULT_NORMALISE, type NormaliseStep } from './normalise.js';
import { doubleMetaphone, soundex } from './phonetic.js';
import type { BlockingPass, BlockingTransform } from './rules.js';

/** Keys per pass are the combinations of the parts' values, capped so a patient with many names stays cheap. */
const MAX_KEYS_PER_PASS = 16;
/** Longer keys are stored as a hash: an index row has a size limit, and a 10 kB identifier must not break a registration. */
const MAX_KEY_LENGTH = 200;

export interface BlockingKeyMaker { (patient: Patient): string[] }

export function compileBlocking(passes: readonly BlockingPass[]): BlockingKeyMaker {
  const compiled = passes.map((pass) => ({
    name: pass.name,
    parts: pass.keys.map((part) => ({
      extract: compileExtractor(part.path, part.normalise ?? defaultNormalise(part.transform)),
      transform: part.transform,
      length: part.length ?? 1,
    })),
  }));
  return (patient) => {
    const keys = new Set<string>();
    for (const pass of compiled) {
      let combinations: string[] = [''];
      for (const part of pass.parts) {
        const values = transformValues(part.extract, patient, part.transform, part.length);
        combinations = combinations.flatMap((prefix) => values.map((value) => (prefix ? `${prefix}|${value}` : value))).slice(0, MAX_KEYS_PER_PASS);
        if (!combinations.length) break;
      }
      for (const combination of combinations) keys.add(boundedKey(`${pass.name}:${combination}`, pass.name));
    }
    return [...keys];
  };
}

/** Whole values keep their punctuation (dates, codes); names cut or coded lose it. */
function defaultNormalise(transform: BlockingTransform): NormaliseStep[] {
  if (transform === 'year') return [];
  if (transform === 'value') return ['lowercase', 'strip-diacritics', 'collapse-spaces'];
  return [...DEFAULT_NORMALISE];
}

function boundedKey(key: string, passName: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${passName}:sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

function transformValues(extract: ValueExtractor, patient: Patient, transform: BlockingTransform, length: number): string[] {
  const values = new Set<string>();
  for (const value of extract(patient)) {
    for (const key of transformValue(value, transform, length)) if (key) values.add(key);
  }
  return [...values];
}

function transformValue(value: string, transform: BlockingTransform, length: number): string[] {
  switch (transform) {
    case 'value': return [value];
    // The whole value, spaces ignored: "van der berg" is one key, not a "van" block of thousands.
    case 'soundex': return [soundex(value)];
    case 'double-metaphone': return doubleMetaphone(value);
    case 'year': return /^\d{4}/.test(value) ? [value.slice(0, 4)] : [];
    case 'initial': return [value.slice(0, 1)];
    case 'prefix': return [value.slice(0, length)];
  }
}
