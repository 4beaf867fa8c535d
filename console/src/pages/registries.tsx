/**
 * The registry browsers: patients in the shared health record with their resources and IPS
 * summary; the client registry's golden records, their source records (links) and the review queue.
 */
import { useState } from 'preact/hooks';
import { errorText, query } from '../api';
import { GOLDEN_TAG, describe, fhirGet, fhirPost, identifiers, patientName, resources, type Bundle, type Registry, type Resource } from '../fhir';
import { href } from '../router';
import { ErrorNote, Field, Notice, PageTitle, prettyBody, useLoad } from '../ui';

function PatientSearch({ registry, extra, onSearch }: { registry: Registry; extra?: Record<string, string>; onSearch?: () => void }) {
  const [name, setName] = useState('');
  const [submitted, setSubmitted] = useState('');
  const path = `Patient${query({ name: submitted || undefined, _count: 20, _sort: '-_lastUpdated', ...extra })}`;
  const found = useLoad(() => fhirGet<Bundle>(registry, path), [path]);
  const base = registry === 'shr' ? '/patients' : '/client-registry';
  return (
    <>
      <form class="row" role="search" onSubmit={(e) => { e.preventDefault(); setSubmitted(name); onSearch?.(); }}>
        <Field label="Name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={found.error} />
      <div class="table-wrap">
        <table aria-busy={found.loading}>
          <caption class="sr-only">Patients</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Birth date</th><th scope="col">Gender</th><th scope="col">Identifiers</th></tr></thead>
          <tbody>
            {resources(found.data).map((p) => (
              <tr key={p.id} data-patient={p.id}>
                <td><a href={href(`${base}/${p.id}`)}>{patientName(p)}</a></td>
                <td>{(p.birthDate as string) ?? '–'}</td>
                <td>{(p.gender as string) ?? '–'}</td>
                <td>{identifiers(p) || '–'}</td>
              </tr>
            ))}
            {!found.loading && !resources(found.data).length && <tr><td colSpan={4}>No patients found.</td></tr>}
          </tbody>
        </table>
      </div>
    </>
  );
}

export function PatientsPage() {
  return (
    <section>
      <PageTitle>Patients</PageTitle>
      <p>Patients in the shared health record, newest first.</p>
      <PatientSearch registry="shr" />
    </section>
  );
}

export function PatientPage({ id }: { id: string }) {
  const everything = useLoad(() => fhirGet<Bundle>('shr', `Patient/${encodeURIComponent(id)}/$everything`), [id]);
  const [summary, setSummary] = useState<string>();
  const [error, setError] = useState<string>();
  const all = resources(everything.data);
  const patient = all.find((r) => r.resourceType === 'Patient' && r.id === id);
  const byType = new Map<string, Resource[]>();
  for (const r of all) if (r !== patient) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
  const loadSummary = async () => {
    setError(undefined);
    try {
      const bundle = await fhirGet<Bundle>('shr', `Patient/${encodeURIComponent(id)}/$summary`);
      setSummary(JSON.stringify(bundle));
    } catch (e) {
      setError(errorText(e));
    }
  };
  const composition = summary ? (JSON.parse(summary) as Bundle).entry?.[0]?.resource : undefined;
  const sections = (composition?.section as Array<{ title?: string; entry?: unknown[] }> | undefined) ?? [];
  return (
    <article>
      <PageTitle>{patient ? patientName(patient) : 'Patient'}</PageTitle>
      <p><a href={href('/patients')}>All patients</a></p>
      <ErrorNote error={everything.error ?? error} />
      {patient && (
        <dl class="facts">
          <div><dt>Birth date</dt><dd>{(patient.birthDate as string) ?? '–'}</dd></div>
          <div><dt>Gender</dt><dd>{(patient.gender as string) ?? '–'}</dd></div>
          <div><dt>Identifiers</dt><dd>{identifiers(patient) || '–'}</dd></div>
          <div><dt>Id</dt><dd><code>{patient.id}</code></dd></div>
        </dl>
      )}
      <h2>Resources</h2>
      {[...byType].map(([type, list]) => (
        <details key={type} open={list.length <= 5}>
          <summary>{type} ({list.length})</summary>
          <ul>{list.map((r) => <li key={r.id}><code>{type}/{r.id}</code> {describe(r)}</li>)}</ul>
        </details>
      ))}
      {!everything.loading && byType.size === 0 && <p>No other resources.</p>}
      <h2>International Patient Summary</h2>
      <button type="button" onClick={loadSummary}>Make the summary ($summary)</button>
      {composition && (
        <section aria-label="Summary sections">
          <ul>{sections.map((s, i) => <li key={i}>{s.title ?? 'Section'}: {s.entry?.length ?? 0} entries</li>)}</ul>
          <details><summary>The summary Bundle</summary><pre class="body" tabIndex={0}>{prettyBody(summary)}</pre></details>
        </section>
      )}
    </article>
  );
}

interface ReviewItem {
  id: string;
  status: string;
  source?: string;
  candidate?: string;
  golden?: string;
  score?: number;
}

/** `$cr-review` answers a Parameters with one `item` part per entry; each part's parts are its fields. */
function reviewItems(parameters: unknown): ReviewItem[] {
  const items = ((parameters as { parameter?: Array<{ name: string; part?: Array<Record<string, unknown>> }> })?.parameter ?? []).filter((p) => p.name === 'item');
  return items.map((item) => {
    const field = (name: string) => {
      const part = item.part?.find((p) => p.name === name);
      if (!part) return undefined;
      const value = Object.entries(part).find(([k]) => k.startsWith('value'))?.[1];
      return (value as { reference?: string })?.reference ?? value;
    };
    return { id: String(field('id') ?? ''), status: String(field('status') ?? ''), source: field('source') as string, candidate: field('candidate') as string, golden: field('golden') as string, score: field('score') as number };
  });
}

export function ClientRegistryPage() {
  const review = useLoad(() => fhirGet<unknown>('cr', 'Patient/$cr-review?status=open'), []);
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  const decide = async (item: ReviewItem, decision: 'accept' | 'reject') => {
    setError(undefined);
    try {
      await fhirPost('cr', `Patient/$cr-review-${decision}`, { resourceType: 'Parameters', parameter: [{ name: 'item', valueString: item.id }] });
      setMessage(`Review item ${item.id} ${decision === 'accept' ? 'accepted: the records are one person' : 'rejected: they stay apart'}.`);
      review.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const items = reviewItems(review.data);
  return (
    <section>
      <PageTitle>Client registry</PageTitle>
      <h2>Golden records</h2>
      <p>One per person; open one to see the source records the clinics registered.</p>
      <PatientSearch registry="cr" extra={{ _tag: GOLDEN_TAG }} />
      <h2>Review queue</h2>
      <ErrorNote error={review.error ?? error} />
      <Notice message={message} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Open review items: probable matches</caption>
          <thead><tr><th scope="col">Source</th><th scope="col">Candidate</th><th scope="col">Score</th><th scope="col"><span class="sr-only">Decision</span></th></tr></thead>
          <tbody>
            {items.map((item) => (
              <tr key={item.id} data-review={item.id}>
                <td><code>{item.source}</code></td>
                <td><code>{item.candidate}</code> {item.golden && <a href={href(`/client-registry/${item.golden.split('/')[1]}`)}>golden record</a>}</td>
                <td>{item.score == null ? '–' : Number(item.score).toFixed(2)}</td>
                <td>
                  <button type="button" onClick={() => decide(item, 'accept')} aria-label={`Accept: ${item.source} is ${item.candidate}`}>Same person</button>{' '}
                  <button type="button" onClick={() => decide(item, 'reject')} aria-label={`Reject: ${item.source} is not ${item.candidate}`}>Different</button>
                </td>
              </tr>
            ))}
            {!review.loading && !items.length && <tr><td colSpan={4}>Nothing to review.</td></tr>}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function GoldenRecordPage({ id }: { id: string }) {
  const golden = useLoad(() => fhirGet<Resource>('cr', `Patient/${encodeURIComponent(id)}`), [id]);
  const links = ((golden.data?.link as Array<{ other?: { reference?: string }; type?: string }> | undefined) ?? []).filter((l) => l.type === 'seealso');
  const sources = useLoad(
    () => (links.length ? fhirGet<Bundle>('cr', `Patient${query({ _id: links.map((l) => l.other?.reference?.split('/')[1]).join(','), _count: 100 })}`) : Promise.resolve(undefined)),
    [links.map((l) => l.other?.reference).join(',')],
  );
  return (
    <article>
      <PageTitle>{golden.data ? `Golden record: ${patientName(golden.data)}` : 'Golden record'}</PageTitle>
      <p><a href={href('/client-registry')}>Client registry</a></p>
      <ErrorNote error={golden.error ?? sources.error} />
      {golden.data && (
        <dl class="facts">
          <div><dt>Birth date</dt><dd>{(golden.data.birthDate as string) ?? '–'}</dd></div>
          <div><dt>Gender</dt><dd>{(golden.data.gender as string) ?? '–'}</dd></div>
          <div><dt>Id (enterprise identity)</dt><dd><code>{golden.data.id}</code></dd></div>
        </dl>
      )}
      <h2>Source records ({links.length})</h2>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Source records linked to this golden record</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Birth date</th><th scope="col">Identifiers</th><th scope="col">Record</th></tr></thead>
          <tbody>
            {resources(sources.data).map((p) => (
              <tr key={p.id} data-source={p.id}>
                <td>{patientName(p)}</td>
                <td>{(p.birthDate as string) ?? '–'}</td>
                <td>{identifiers(p) || '–'}</td>
                <td><code>Patient/{p.id}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </article>
  );
}
