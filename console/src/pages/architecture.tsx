/**
 * The live architecture view: clients, the router, mediators and the services behind them, with
 * each new transaction drawn along its path, coloured by status; every edge and flow links to
 * its transaction. The running components (mediators, enabled channels' upstreams, registries)
 * are drawn greyed while idle, so a fresh stack shows its parts. The deployed packages (the
 * console server's GET /console/deployment) frame their services. Polls the admin API every 2 s.
 */
import { useMemo, useRef } from 'preact/hooks';
import { api, query, request } from '../api';
import type { Channel, Client, Mediator, Transaction } from '../models';
import { buildFlowGraph, type DeploymentView, type FlowNode, type RunningRegistry } from '../flow-graph';
import { heartbeatState } from './mediators';
import { href } from '../router';
import { wrapLabel } from '../text-wrap';
import { ErrorNote, PageTitle, StatusBadge, formatTime, useInterval, useLoad } from '../ui';

const WIDTH = 1000;
const NODE_W = 190;
const NODE_H = 46;
/** Room for two nodes' frames, each with a two-line package name, one above the other. */
const ROW_GAP = 96;
/** Room above the first row for the column titles and a package's name. */
const TOP = 72;
const COLUMN_X = [20, 270, 530, 790];
const COLUMN_TITLES = ['Clients', 'Interoperability layer', 'Mediators and upstreams', 'Services called'];

export function statusColour(status: string): string {
  if (status === 'Successful' || status === 'Completed') return 'var(--good)';
  if (status === 'Failed') return 'var(--bad)';
  if (status === 'Completed with error(s)') return 'var(--warn)';
  return 'var(--busy)';
}

interface PackageBox {
  key: string;
  packageId: string;
  label: string;
  x: number;
  y: number;
  height: number;
}

/** Nodes by column, a package's nodes next to each other (in deployment order), then a frame per package and column. */
function layout(nodes: FlowNode[], packageOrder: string[]): { positions: Map<string, { x: number; y: number }>; height: number; boxes: PackageBox[] } {
  const positions = new Map<string, { x: number; y: number }>();
  const rows = Math.max(1, ...[0, 1, 2, 3].map((c) => nodes.filter((n) => n.column === c).length));
  const height = TOP + 10 + rows * ROW_GAP;
  const rank = (n: FlowNode) => (n.group ? packageOrder.indexOf(n.group) : packageOrder.length);
  const boxes: PackageBox[] = [];
  for (const column of [0, 1, 2, 3]) {
    // Stable sort: within a package (and among the ungrouped) the graph's own order stands.
    const inColumn = nodes.filter((n) => n.column === column).map((n, i) => ({ n, i })).sort((a, b) => rank(a.n) - rank(b.n) || a.i - b.i).map((e) => e.n);
    const top = TOP + ((rows - inColumn.length) * ROW_GAP) / 2;
    inColumn.forEach((node, i) => positions.set(node.id, { x: COLUMN_X[column]!, y: top + i * ROW_GAP }));
    for (const group of new Set(inColumn.map((n) => n.group).filter((g): g is string => !!g))) {
      const ys = inColumn.filter((n) => n.group === group).map((n) => positions.get(n.id)!.y);
      // Two lines of the package's name above its first node.
      const y = Math.min(...ys) - 36;
      boxes.push({ key: `${column}:${group}`, packageId: group, label: group, x: COLUMN_X[column]! - 8, y, height: Math.max(...ys) + NODE_H + 8 - y });
    }
  }
  return { positions, height, boxes };
}

export function ArchitecturePage() {
  const transactions = useLoad(() => api.get<Transaction[]>(`/transactions${query({ filterLimit: 25, filterRepresentation: 'simpledetails' })}`), []);
  const channels = useLoad(() => api.get<Channel[]>('/channels'), []);
  const clients = useLoad(() => api.get<Client[]>('/clients').catch(() => [] as Client[]), []);
  const mediators = useLoad(() => api.get<Mediator[]>('/mediators').catch(() => [] as Mediator[]), []);
  useInterval(() => transactions.reload(), 2_000);
  // The console server's own view of the registries (absent against an older console server: none).
  const registries = useLoad(() => request<{ registries: RunningRegistry[] }>('GET', '/console/components').then((c) => c.registries, () => [] as RunningRegistry[]), []);
  // What the deployment runs, by package (absent against an older console server: not known).
  const deployment = useLoad(() => request<DeploymentView>('GET', '/console/deployment').catch(() => ({ known: false, packages: [], services: [] }) as DeploymentView), []);
  useInterval(() => { channels.reload(); mediators.reload(); clients.reload(); registries.reload(); deployment.reload(); }, 15_000);
  const graph = useMemo(
    () => buildFlowGraph(transactions.data ?? [], channels.data ?? [], clients.data ?? [], mediators.data ?? [], registries.data ?? [], deployment.data),
    [transactions.data, channels.data, clients.data, mediators.data, registries.data, deployment.data],
  );
  // Transactions already drawn: only new ones get a moving dot.
  const seen = useRef<Set<string> | undefined>(undefined);
  const fresh = new Set<string>();
  if (transactions.data) {
    if (seen.current) for (const t of transactions.data) if (!seen.current.has(t._id)) fresh.add(t._id);
    seen.current = new Set([...(seen.current ?? []), ...transactions.data.map((t) => t._id)]);
  }
  // Drawn once everything it is built from has arrived, so a mediator never shows first as a plain upstream.
  const ready = !!(transactions.data && channels.data && clients.data && mediators.data && registries.data && deployment.data);
  const packageName = new Map(graph.packages.map((p) => [p.id, p.name]));
  const { positions, height, boxes } = layout(graph.nodes, graph.packages.map((p) => p.id));
  const centre = (id: string, side: 'in' | 'out') => {
    const p = positions.get(id) ?? { x: 0, y: 0 };
    return { x: side === 'out' ? p.x + NODE_W : p.x, y: p.y + NODE_H / 2 };
  };
  const edgePath = (from: string, to: string) => {
    const a = centre(from, 'out');
    const b = centre(to, 'in');
    const mid = (a.x + b.x) / 2;
    return `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`;
  };
  const mediatorState = new Map((mediators.data ?? []).map((m) => [`mediator:${m.urn}`, heartbeatState(m)]));
  return (
    <section>
      <PageTitle>Architecture</PageTitle>
      <p>The exchange as it runs: each request's path from its client through the router to the mediators and services, newest in colour by status. Select an arrow to open its latest transaction. Running components that no recent transaction reached are greyed, with dashed lines for the routes channels configure.</p>
      <ErrorNote error={transactions.error ?? channels.error} />
      {!ready ? <p role="status">Loading…</p> : <>
      <div class="diagram-wrap">
        <svg class="diagram" viewBox={`0 0 ${WIDTH} ${height}`} role="group" aria-label="Architecture diagram">
          {COLUMN_TITLES.map((title, i) => <text key={title} class="column-title" x={COLUMN_X[i]! + NODE_W / 2} y={24} text-anchor="middle">{title}</text>)}
          {boxes.map((b) => (
            <g key={b.key} class="package" data-package={b.packageId}>
              <rect x={b.x} y={b.y} width={NODE_W + 16} height={b.height} rx={10} />
              <text x={b.x + 8} y={b.y + 13}>
                {wrapLabel(packageName.get(b.packageId) ?? b.label, 30, 2).map((line, i, lines) => (
                  // The space ends a line so the text reads as one (screen readers, textContent).
                  <tspan key={i} x={b.x + 8} dy={i ? 13 : 0}>{i < lines.length - 1 ? `${line} ` : line}</tspan>
                ))}
              </text>
            </g>
          ))}
          {graph.links.map((l) => <path key={l.id} class="link idle" data-link={l.id} d={edgePath(l.from, l.to)} />)}
          {graph.edges.map((e) => (
            <a key={e.id} href={href(`/transactions/${e.transactionId}`)} class="edge" data-edge={e.id} data-status={e.status}
              aria-label={`${graph.nodes.find((n) => n.id === e.from)?.label} to ${graph.nodes.find((n) => n.id === e.to)?.label}: ${e.count} transaction(s), latest ${e.status}`}>
              <path id={`edge-${e.id}`} d={edgePath(e.from, e.to)} stroke={statusColour(e.status)} />
            </a>
          ))}
          {graph.flows.filter((f) => fresh.has(f.transaction._id)).flatMap((f) =>
            f.path.slice(1).map((to, i) => {
              const from = i >= 2 ? f.path[2]! : f.path[i]!;
              return (
                // Hidden until its hop begins, then left at the hop's end as an arrival mark.
                <circle key={`${f.transaction._id}-${i}`} r={7} class="packet" fill={statusColour(f.transaction.status)} visibility="hidden">
                  <set attributeName="visibility" to="visible" begin={`${Math.min(i, 2) * 0.6}s`} fill="freeze" />
                  <animateMotion dur="0.6s" begin={`${Math.min(i, 2) * 0.6}s`} fill="freeze" {...({ path: edgePath(from, to) } as Record<string, string>)} />
                </circle>
              );
            }),
          )}
          {graph.nodes.map((n) => {
            const p = positions.get(n.id)!;
            return (
              <g key={n.id} class={`node ${n.kind}${n.idle ? ' idle' : ''}`} data-node={n.id} data-idle={n.idle ? '1' : undefined} data-service={n.service} data-package={n.group} transform={`translate(${p.x},${p.y})`}>
                <title>{n.idle ? `${n.label}: running, no recent traffic` : n.label}</title>
                <rect width={NODE_W} height={NODE_H} rx={8} />
                <text x={NODE_W / 2} y={NODE_H / 2 + 5} text-anchor="middle">{n.label.length > 28 ? `${n.label.slice(0, 27)}…` : n.label}</text>
                {mediatorState.has(n.id) && <circle cx={NODE_W - 10} cy={10} r={5} class={`beat ${mediatorState.get(n.id)}`}><title>heartbeat {mediatorState.get(n.id)}</title></circle>}
              </g>
            );
          })}
        </svg>
      </div>
      {graph.packages.length > 0 && <>
        <h2>Deployed packages</h2>
        <ul class="deployed-packages">
          {graph.packages.map((p) => (
            <li key={p.id} data-package={p.id}>
              <strong>{p.name}</strong> <code>{p.id}</code> {p.version}: {p.services.length ? p.services.join(', ') : 'configuration only'}
            </li>
          ))}
        </ul>
      </>}
      <h2>Recent flows</h2>
      <ol class="flows" aria-live="polite">
        {graph.flows.slice(0, 10).map((f) => (
          <li key={f.transaction._id} data-flow={f.transaction._id}>
            <a href={href(`/transactions/${f.transaction._id}`)}>{formatTime(f.transaction.request.timestamp)}</a>{' '}
            <code>{f.transaction.request.method} {f.transaction.request.path}</code>{' '}
            <span class="path">{f.path.map((id) => graph.nodes.find((n) => n.id === id)?.label ?? id).join(' → ')}</span>{' '}
            <StatusBadge status={f.transaction.status} />
          </li>
        ))}
        {!graph.flows.length && <li>No transactions yet: send a request through the router.</li>}
      </ol>
      </>}
    </section>
  );
}
