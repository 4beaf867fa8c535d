/** content-match.ts: OpenHIM's XPath and JSON body rules, and what the API refuses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkContentMatch, compileContentValueTest as compileForBody, MatchableBody, MAX_JSON_PATH_SEGMENTS, type ContentRule } from '../../src/services/interop-layer/content-match.js';
import { IolError } from '../../src/services/interop-layer/errors.js';

/** The rule's test on a body given as text. */
function compileContentValueTest(rule: ContentRule): ((text: string, onGiveUp?: () => void) => boolean) | undefined {
  const test = compileForBody(rule);
  return test && ((text, onGiveUp) => test(new MatchableBody(text), onGiveUp));
}

const refused = (pattern: RegExp) => (e: unknown) => e instanceof IolError && e.status === 400 && pattern.test(e.message);

test('JSON path: a.b, a[0].b and .a compared as text to the value (OpenHIM getJSONValByString)', () => {
  const t = compileContentValueTest({ matchContentJson: 'function.id', matchContentValue: 'da3' })!;
  assert.equal(t('{"function":{"id":"da3"}}'), true);
  assert.equal(t('{"function":{"id":"other"}}'), false);
  assert.equal(t('{"function":{}}'), false);
  assert.equal(t('not json'), false);
  assert.equal(t('{"function":"da3"}'), false);
  assert.equal(compileContentValueTest({ matchContentJson: 'a[1].n', matchContentValue: '2' })!('{"a":[{"n":1},{"n":2}]}'), true);
  assert.equal(compileContentValueTest({ matchContentJson: '.flag', matchContentValue: 'true' })!('{"flag":true}'), true);
  assert.equal(compileContentValueTest({ matchContentJson: 'n', matchContentValue: 'null' })!('{"n":null}'), false);
  assert.equal(compileContentValueTest({ matchContentJson: 'constructor', matchContentValue: 'x' })!('{}'), false, 'own keys only');
  assert.equal(compileContentValueTest({ matchContentJson: 'o', matchContentValue: 'x' })!('{"o":{"toString":1}}'), false, 'no throw');
});

test('XPath: evaluated on the XML body, its result as text compared to the value (OpenHIM matchXpath)', () => {
  const t = compileContentValueTest({ matchContentXpath: 'string(/function/@uuid)', matchContentValue: 'da3' })!;
  assert.equal(t('<function uuid="da3"/>'), true);
  assert.equal(t('<function uuid="x"/>'), false);
  assert.equal(t('{"json":1}'), false, 'not XML: no match');
  assert.equal(t('<function uuid="da3">'), false, 'not well-formed: no match');
  const text = compileContentValueTest({ matchContentXpath: '/a/b/text()', matchContentValue: 'x,y' })!;
  assert.equal(text('<a><b>x</b><b>y</b></a>'), true, 'a node list joins with commas, as OpenHIM');
});

test('XML entities are never expanded or fetched: such a body matches nothing', () => {
  const t = compileContentValueTest({ matchContentXpath: 'string(/a)', matchContentValue: 'root:x:0:0' })!;
  assert.equal(t('<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'), false);
  const lol = `<!DOCTYPE a [<!ENTITY a "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY a${i + 1} "${`&a${i || ''};`.repeat(10)}">`).join('')}]><a>&a9;</a>`;
  assert.equal(compileContentValueTest({ matchContentXpath: 'string(/a)', matchContentValue: 'lol' })!(lol), false);
});

test('the rule precedence is OpenHIM\'s: a regex wins, an expression without a value matches nothing', () => {
  assert.equal(compileContentValueTest({ matchContentRegex: 'x', matchContentJson: 'a', matchContentValue: '1' }), undefined);
  assert.equal(compileContentValueTest({}), undefined);
  assert.equal(compileContentValueTest({ matchContentJson: 'a' })!('{"a":"1"}'), false);
});

test('checkContentMatch refuses what OpenHIM would never match and what could cost too much', () => {
  assert.throws(() => checkContentMatch({ matchContentJson: 'a.b' }), refused(/matchContentValue/));
  assert.throws(() => checkContentMatch({ matchContentXpath: '/a' }), refused(/matchContentValue/));
  assert.throws(() => checkContentMatch({ matchContentXpath: '/a/[b', matchContentValue: 'x' }), refused(/not a valid XPath/));
  assert.throws(() => checkContentMatch({ matchContentXpath: `/${'a/'.repeat(600)}b`, matchContentValue: 'x' }), refused(/longer than 1024/));
  assert.throws(() => checkContentMatch({ matchContentJson: Array(MAX_JSON_PATH_SEGMENTS + 1).fill('a').join('.'), matchContentValue: 'x' }), refused(/steps/));
  checkContentMatch({ matchContentJson: 'a.b', matchContentValue: 'x' });
  checkContentMatch({ matchContentXpath: '/a/b', matchContentValue: 'x' });
  checkContentMatch({});
});

test('a hostile XPath is stopped at the deadline and matches nothing', () => {
  const nested = '//*[count(//*[count(//*[count(//*) > 0]) > 0]) > 0]';
  const t = compileContentValueTest({ matchContentXpath: nested, matchContentValue: 'never' })!;
  const body = `<r>${'<e/>'.repeat(3_000)}</r>`; // 3,000^4 node visits were it run to the end
  let givenUp = 0;
  assert.equal(t(body, () => givenUp++), false);
  assert.equal(givenUp, 1);
});

test('a body is parsed once however many XPath and JSON rules test it', () => {
  const body = new MatchableBody('<a><b>x</b></a>');
  const rules = ['x', 'y', 'z'].map((value) => compileForBody({ matchContentXpath: 'string(/a/b)', matchContentValue: value })!);
  assert.equal(body.xml(), body.xml(), 'the same document');
  assert.deepEqual(rules.map((rule) => rule(body)), [true, false, false]);
  const json = new MatchableBody('{"a":1}');
  assert.equal(json.json(), json.json());
  assert.equal(compileForBody({ matchContentJson: 'a', matchContentValue: '1' })!(json), true);
});
