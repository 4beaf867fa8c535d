/**
 * The exchange as a graph, built from what the admin API tells: each transaction's client, the
 * router, the upstream its channel routed to (a mediator when a registered mediator listens
 * there) and the services the mediator called (its orchestrations). Pure: the view draws it.
 */
import type { Channel, Client, Mediator, Transaction } from './models.js';

export type NodeKind = 'client' | 'router' | 'mediator' | 'service';

export interface FlowNode {
  id: string;
  label: string;
  kind: NodeKind;
  column: number;
}

export interface FlowEdge {
  id: string;
  from: string;
  to: string;
  /** The newest transaction that took this edge, and its status. */
  transactionId: string;
  status: string;
  count: number;
}

export interface Flow {
  transaction: Transaction;
  /** Node ids, in the order the request went. */
  path: string[];
}

export interface FlowGraph {
  nodes: FlowNode[];
  edges: FlowEdge[];
  flows: Flow[];
}

const ROUTER = 'router';
const COLUMN: Record<NodeKind, number> = { client: 0, router: 1, mediator: 2, service: 3 };

function hostKey(host: unknown, port: unknown): string {
  return `${String(host ?? '').toLowerCase()}:${String(port ?? '')}`;
}

export function buildFlowGraph(transactions: Transaction[], channels: Channel[], clients: Client[], mediators: Mediator[]): FlowGraph {
  const nodes = new Map<string, FlowNode>();
  const edges = new Map<string, FlowEdge>();
  const addNode = (id: string, label: string, kind: NodeKind) => {
    if (!nodes.has(id)) nodes.set(id, { id, label, kind, column: COLUMN[kind] });
    return id;
  };
  addNode(ROUTER, 'Interop layer (router)', 'router');
  const mediatorAt = new Map<string, Mediator>();
  for (const m of mediators) for (const e of m.endpoints ?? []) mediatorAt.set(hostKey(e.host, e.port), m);
  const channelById = new Map(channels.map((c) => [c._id, c]));
  const clientById = new Map(clients.map((c) => [c._id, c]));

  const flows: Flow[] = [];
  // Oldest first, so the newest transaction is the one an edge remembers.
  for (const tx of [...transactions].reverse()) {
    const client = tx.clientID ? clientById.get(tx.clientID) : undefined;
    const clientNode = addNode(`client:${tx.clientID ?? 'anonymous'}`, client?.clientID ?? (tx.clientID ? tx.clientID : 'anonymous caller'), 'client');
    const path = [clientNode, ROUTER];
    const channel = tx.channelID ? channelById.get(tx.channelID) : undefined;
    const primary = channel?.routes?.find((r) => r.primary) ?? channel?.routes?.[0];
    if (primary) {
      const key = hostKey(primary.host, primary.port);
      const mediator = mediatorAt.get(key);
      const upstream = mediator
        ? addNode(`mediator:${mediator.urn}`, mediator.name, 'mediator')
        : addNode(`upstream:${key}`, `${primary.name} (${primary.host}:${primary.port})`, 'service');
      path.push(upstream);
      for (const o of tx.orchestrations ?? []) {
        const target = o.request?.host ? hostKey(o.request.host, o.request.port) : o.name;
        path.push(addNode(`service:${target}`, o.request?.host ? `${o.name} (${o.request.host}:${o.request.port ?? ''})` : o.name, 'service'));
      }
    }
    flows.push({ transaction: tx, path });
    const hops: Array<[string, string]> = [];
    for (let i = 1; i < path.length; i++) {
      // Orchestrations are all called by the upstream (the mediator), not by each other.
      const from = i >= 3 ? path[2]! : path[i - 1]!;
      hops.push([from, path[i]!]);
    }
    for (const [from, to] of hops) {
      const id = `${from}>${to}`;
      const edge = edges.get(id);
      edges.set(id, { id, from, to, transactionId: tx._id, status: tx.status, count: (edge?.count ?? 0) + 1 });
    }
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()], flows: flows.reverse() };
}
