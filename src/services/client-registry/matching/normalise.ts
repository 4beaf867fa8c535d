/** Normalisation applied to a field's values before comparison and blocking. */

export type NormaliseStep = 'lowercase' | 'strip-diacritics' | 'strip-punctuation' | 'digits-only' | 'collapse-spaces';
export const NORMALISE_STEPS: readonly NormaliseStep[] = ['lowercase', 'strip-diacritics', 'strip-punctuation', 'digits-only', 'collapse-spaces'];

/** Lowercase, without diacritics and punctuation, single spaces: what most name fields want. */
export const DEFAULT_NORMALISE: readonly NormaliseStep[] = ['lowercase', 'strip-diacritics', 'strip-punctuation', 'collapse-spaces'];

export function normalise(value: string, steps: readonly NormaliseStep[]): string {
  let text = value;
  for (const step of steps) {
    switch (step) {
      case 'lowercase': text = text.toLowerCase(); break;
      // NFD splits "é" into "e" + a combining accent, which the range below removes.
      case 'strip-diacritics': text = text.normalize('NFD').replace(/[\u0300-\u036f]/g, ''); break;
      case 'strip-punctuation': text = text.replace(/[^\p{L}\p{N}\s|]/gu, ' '); break;
      case 'digits-only': text = text.replace(/\D/g, ''); break;
      case 'collapse-spaces': text = text.replace(/\s+/g, ' '); break;
    }
  }
  return text.trim();
}
