/** narrative.ts: txt-1 and txt-2 on XHTML alone, and on every narrative of the official R4 examples. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readExamples } from '../../bench/fhir/load-examples.js';
import { narrativeIssues, narrativeProblem } from '../../src/fhir/narrative.js';

const div = (inner: string, attributes = ''): string => `<div xmlns="http://www.w3.org/1999/xhtml"${attributes}>${inner}</div>`;

test('basic formatting, tables, links, images and contained styles pass', () => {
  for (const ok of [
    div('<p>Peter <b>Chalmers</b> &amp; family<br/></p>'),
    div('<table class="grid" border="1"><tbody><tr><th scope="col">a</th><td colspan="2" style="color: red; background-image: url(data: image/png;base64,iVBORw0KGgo=)">1</td></tr></tbody></table>'),
    div('<a href="http://hl7.org/fhir">spec</a> <a href="#p1">here</a> <a name="p1">anchor</a> <a href="mailto:a@b.c">mail</a> <a href="Patient/1">relative</a>'),
    div('<img src="data:image/png;base64,iVBORw0KGgo=" alt="logo"/>'),
    div('<img src="#contained-binary"/>'),
    div('<p xml:lang="fr" lang="fr" dir="ltr">bonjour</p><!-- a comment --><pre><![CDATA[ 1 < 2 ]]></pre>'),
    div('x', ' xmlns:xhtml="http://www.w3.org/1999/xhtml"'),
  ]) assert.equal(narrativeProblem(ok), undefined, ok);
});

test('scripts, event attributes, forms, frames, objects and code in links are refused', () => {
  const refused: Array<[string, RegExp]> = [
    [div('<script>alert(1)</script>'), /<script>/],
    [div('<p onclick="alert(1)">x</p>'), /"onclick"/],
    [div('<img src="x" onerror="alert(1)"/>'), /"onerror"/],
    [div('<a href="javascript:alert(1)">x</a>'), /"javascript:"/],
    [div('<a href="  JaVa&#x09;Script:alert(1)">x</a>'), /"javascript:"/],
    [div('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>'), /"data:"/],
    [div('<img src="data:image/svg+xml;base64,PHN2Zz4="/>'), /"data:"/],
    [div('<a href="vbscript:x">x</a>'), /"vbscript:"/],
    [div('<form action="http://evil.example"><input name="pw"/></form>'), /<form>/],
    [div('<iframe src="http://evil.example"></iframe>'), /<iframe>/],
    [div('<object data="x"></object>'), /<object>/],
    [div('<svg:svg xmlns:svg="http://www.w3.org/2000/svg"/>x'), /<svg:svg>/],
    [div('<a xlink:href="javascript:alert(1)">x</a>'), /"xlink:href"/],
    [div('<p style="background: url(http://evil.example/track.png)">x</p>'), /style/],
    [div('<p style="width: expression(alert(1))">x</p>'), /style/],
    [div('<p style="background: \\75rl(http://evil.example/)">x</p>'), /style/],
    [div('<p style="background: url( \'http://evil.example/a.png\' )">x</p>'), /style/],
    [div('<p style="background: url(data:image/png;base64,AA== ) url(http://evil.example/)">x</p>'), /style/],
    [div('<p style="background: /* hidden */ u/**/rl(http://evil.example/)">x</p>'), /style/],
    [div('<p style="background: url(http://evil.example/">x</p>'), /style/],
    [div('<p xmlns="http://www.w3.org/2000/svg">x</p>'), /namespace/],
    [div('<u>underlined</u>'), /<u>/],
    ['not xhtml', /not well-formed/],
    ['', /not well-formed/],
    ['<div>no namespace</div>', /XHTML namespace/],
    ['<p xmlns="http://www.w3.org/1999/xhtml">x</p>', /root element is <p>/],
    [div('<p>unclosed'), /not well-formed/],
    [div('&nbsp;'), /not well-formed/],
    [`<?xml version="1.0"?>${div('x')}`, /XML declaration/],
    [`<!DOCTYPE div [<!ENTITY x "boom">]>${div('&x;')}`, /DTD/],
    [div('<?php echo 1 ?>x'), /processing instruction/],
    [div(' \n\t '), /txt-2/],
    [div('x<!--><script>alert(1)</script>-->'), /comment/],
    [div('x<!---><img src="x" onerror="alert(1)"/>-->'), /comment/],
    [div('x<![CDATA[><script>alert(1)</script>]]>'), /CDATA/],
    [div(`${'<b>'.repeat(101)}x${'</b>'.repeat(101)}`), /deeper than 100/],
    [div('<p> </p><br/>'), /txt-2/],
  ];
  for (const [xhtml, reason] of refused) {
    const problem = narrativeProblem(xhtml);
    assert.ok(problem, `accepted: ${xhtml}`);
    assert.match(problem, reason, xhtml);
  }
});

test('a long hostile style is read in one pass (lazy regular expressions made these quadratic: seconds each)', () => {
  // Each is refused or passed after a scan linear in its length; a quadratic one would take minutes.
  assert.match(narrativeProblem(div(`<p style="${'url('.repeat(200_000)}">x</p>`)) ?? '', /style/);
  assert.equal(narrativeProblem(div(`<p style="${'/* a'.repeat(200_000)}">x</p>`)), undefined, 'an unterminated comment hides nothing');
  assert.equal(narrativeProblem(div(`<p style="${'color: red; '.repeat(50_000)}">x</p>`)), undefined);
});

test('every narrative of a resource is checked, contained and bundled ones too, each named by its path', () => {
  const bad = { status: 'generated', div: div('<script>x</script>') };
  const good = { status: 'generated', div: div('fine') };
  const issues = narrativeIssues({
    resourceType: 'Bundle', type: 'collection',
    entry: [{ resource: { resourceType: 'Patient', text: good } }, { resource: { resourceType: 'Patient', text: good, contained: [{ resourceType: 'Organization', text: bad }] } }],
  }, 'Bundle');
  assert.deepEqual(issues.map((i) => i.expression?.[0]), ['Bundle.entry[1].resource.contained[0].text.div']);
  assert.equal(issues[0]!.severity, 'error');
});

test('the official R4 examples pass, but for the four whose narrative is blank (txt-2)', () => {
  const refused: string[] = [];
  for (const { file, resource } of readExamples()) {
    for (const issue of narrativeIssues(resource, resource.resourceType)) refused.push(`${file} ${issue.expression?.[0]}: ${issue.details?.text}`);
  }
  assert.deepEqual(refused.map((line) => line.split(' ')[0]).sort(), [
    'ActivityDefinition-blood-tubes-supply.json', 'ActivityDefinition-heart-valve-replacement.json',
    'EventDefinition-example.json', 'Questionnaire-zika-virus-exposure-assessment.json',
  ], refused.join('\n'));
  assert.ok(refused.every((line) => /txt-2/.test(line)), refused.join('\n'));
});
