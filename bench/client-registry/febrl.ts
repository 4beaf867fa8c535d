/**
 * Matching accuracy on the FEBRL sets: pairwise precision, recall and F1 per set, the blocking
 * reduction (comparisons made vs all pairs) and comparison speed. The data stay where they are
 * (../shared/data/febrl beside the repository).
 *
 *   node dist/bench/client-registry/febrl.js [--rules FILE] [--em] [--sets dataset1,dataset2,dataset4]
 *
 * --rules: a rules file (JSON or YAML), or `default` for DEFAULT_MATCH_RULES; default
 *   bench/client-registry/febrl-rules.yaml.
 * --em: also score with m/u estimated by EM on each set's candidate pairs (thresholds unchanged).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createMatcher, DEFAULT_MATCH_RULES, estimateMU, parseMatchRules, type MatchRules } from '../../src/services/client-registry/matching/index.js';
import { febrlDirectory, readFebrl, type FebrlRecord } from './febrl-data.js';
import { bestQuality, candidatePairs, quality, truePairCount, type Quality, type ScoredPair } from './linkage.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Options { rulesFile: string; em: boolean; sets: string[] }

function parseArgs(argv: string[]): Options {
  const options: Options = { rulesFile: join(repoRoot, 'bench', 'client-registry', 'febrl-rules.yaml'), em: false, sets: ['dataset1', 'dataset2', 'dataset4'] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rules') options.rulesFile = argv[++i]!;
    else if (argv[i] === '--em') options.em = true;
    else if (argv[i] === '--sets') options.sets = argv[++i]!.split(',');
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return options;
}

interface LinkageSet { name: string; left: FebrlRecord[]; right?: FebrlRecord[] }

function loadSet(name: string): LinkageSet {
  const directory = febrlDirectory(repoRoot);
  if (name === 'dataset4') return { name: 'dataset4a+4b', left: readFebrl(directory, 'dataset4a.csv'), right: readFebrl(directory, 'dataset4b.csv') };
  return { name, left: readFebrl(directory, `${name}.csv`) };
}

function allPairs(set: LinkageSet): number {
  return set.right ? set.left.length * set.right.length : (set.left.length * (set.left.length - 1)) / 2;
}

function score(rules: MatchRules, set: LinkageSet, pairs: Array<[number, number]>): { scored: ScoredPair[]; seconds: number } {
  const matcher = createMatcher(rules);
  const other = set.right ?? set.left;
  const started = process.hrtime.bigint();
  const scored = pairs.map(([a, b]) => {
    const result = matcher.compare(set.left[a].patient, other[b].patient);
    return { a, b, score: result.score, truth: set.left[a].person === other[b].person, result };
  });
  return { scored, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function line(label: string, q: Quality): string {
  const pct = (x: number) => (x * 100).toFixed(2).padStart(6);
  return `  ${label.padEnd(34)} threshold ${String(q.threshold).padStart(6)}  precision ${pct(q.precision)}%  recall ${pct(q.recall)}%  F1 ${q.f1.toFixed(4)}  (TP ${q.truePositives}, FP ${q.falsePositives}, FN ${q.falseNegatives})`;
}

function report(label: string, rules: MatchRules, scored: ScoredPair[], truePairs: number): void {
  console.log(` ${label}`);
  console.log(line('auto-link (score >= autoMatch)', quality(scored, rules.thresholds.autoMatch, truePairs)));
  console.log(line('auto-link + review (>= review)', quality(scored, rules.thresholds.review, truePairs)));
  console.log(line('best threshold (knowing truth)', bestQuality(scored, truePairs)));
}

const options = parseArgs(process.argv.slice(2));
const rules = options.rulesFile === 'default' ? DEFAULT_MATCH_RULES : parseMatchRules(readFileSync(options.rulesFile, 'utf8'), options.rulesFile);
console.log(`# FEBRL matching bench: rules ${options.rulesFile.replace(repoRoot, '')}, thresholds autoMatch ${rules.thresholds.autoMatch}, review ${rules.thresholds.review}, possible ${rules.thresholds.possible}`);
console.log(`# blocking passes: ${rules.blocking.map((pass) => pass.name).join(', ')}`);
for (const name of options.sets) {
  const set = loadSet(name);
  const matcher = createMatcher(rules);
  const blockingStarted = process.hrtime.bigint();
  const pairs = candidatePairs(matcher, set.left, set.right);
  const blockingSeconds = Number(process.hrtime.bigint() - blockingStarted) / 1e9;
  const truePairs = truePairCount(set.left, set.right);
  const { scored, seconds } = score(rules, set, pairs);
  const found = scored.filter((pair) => pair.truth).length;
  console.log(`\n## ${set.name}: ${set.left.length}${set.right ? ` x ${set.right.length}` : ''} records, ${truePairs} true pairs`);
  console.log(`  blocking: ${pairs.length} comparisons of ${allPairs(set)} pairs (${(pairs.length / allPairs(set) * 100).toFixed(3)}%), pair completeness ${(found / truePairs * 100).toFixed(2)}% (${truePairs - found} true pairs never compared), ${blockingSeconds.toFixed(2)} s`);
  console.log(`  scoring: ${Math.round(pairs.length / seconds)} pairs/s (${seconds.toFixed(2)} s)`);
  report('rules file m/u:', rules, scored, truePairs);
  if (options.em) {
    const emStarted = process.hrtime.bigint();
    const other = set.right ?? set.left;
    const estimated = estimateMU(rules, pairs.map(([a, b]) => [set.left[a].patient, other[b].patient]));
    const emSeconds = Number(process.hrtime.bigint() - emStarted) / 1e9;
    const emScored = score(estimated, set, pairs).scored;
    report(`EM-estimated m/u (${emSeconds.toFixed(1)} s): ${estimated.fields.map((f) => `${f.name} m=${f.m.toFixed(3)} u=${f.u.toFixed(4)}`).join(', ')}`, estimated, emScored, truePairs);
  }
}
