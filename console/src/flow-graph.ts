/**
 * The exchange as a graph, built from what the admin API tells: each transaction's client, the
 * router, the upstream its channel routed to (a mediator when a registered mediator listens
 * there) and the services the mediator called (its orchestrations). The running components are
 * there before any traffic: every registered mediator, every enabled channel's upstream (joined
 * to the router by a configured link) and the registries the console finds running; those no
 * recent transaction touched are marked idle. Pure: the view draws it.
 */
import type { Channel, Client, Mediator, Transaction } from './models.js';

export type NodeKind = 'client' | 'router' | 'mediator' | 'service';

export interface FlowNode {
  id: string;
  label: string;
  kind: NodeKind;
  column: number;
  /** Running (configured, registered or found) but on no recent transaction's path. */
  idle: boolean;
}

/** A registry the console server found running (GET /console/components); address for admins only. */
export interface RunningRegistry {
  id: string;
  name: string;
  host?: string;
  port?: string;
}

/** A connection the configuration makes (router → a channel's upstream) that no recent transaction took. */
export interface ConfiguredLink {
  id: string;
  from: string;
  to: string;
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
  /** Configured but idle connections, drawn greyed. */
  links: ConfiguredLink[];
  flows: Flow[];
}

const REGISTRY_LABELS: Record<string, string> = { 'shared-health-record': 'Shared health record', 'client-registry': 'Client registry' };

const ROUTER = 'router';
const COLUMN: Record<NodeKind, number> = { client: 0, router: 1, mediator: 2, service: 3 };

function hostKey(host: unknown, port: unknown): string {
  return `${String(host ?? '').toLowerCase()}:${String(port ?? '')}`;
}

export function buildFlowGraph(transactions: Transaction[], channels: Channel[], clients: Client[], mediators: Mediator[], registries: RunningRegistry[] = []): FlowGraph {
  const nodes = new Map<string, FlowNode>();
  const edges = new Map<string, FlowEdge>();
  const addNode = (id: string, label: string, kind: NodeKind) => {
    if (!nodes.has(id)) nodes.set(id, { id, label, kind, column: COLUMN[kind], idle: false });
    return id;
  };
  addNode(ROUTER, 'Interop layer (router)', 'router');
  const mediatorAt = new Map<string, Mediator>();
  for (const m of mediators) for (const e of m.endpoints ?? []) mediatorAt.set(hostKey(e.host, e.port), m);
  const channelById = new Map(channels.map((c) => [c._id, c]));
  const clientById = new Map(clients.map((c) => [c._id, c]));
  const upstreamNode = (route: NonNullable<Channel['routes']>[number]) => {
    const key = hostKey(route.host, route.port);
    const mediator = mediatorAt.get(key);
    return mediator
      ? addNode(`mediator:${mediator.urn}`, mediator.name, 'mediator')
      : addNode(`upstream:${key}`, `${route.name} (${route.host}:${route.port})`, 'service');
  };

  const flows: Flow[] = [];
  // Oldest first, so the newest transaction is the one an edge remembers.
  for (const tx of [...transactions].reverse()) {
    const client = tx.clientID ? clientById.get(tx.clientID) : undefined;
    const clientNode = addNode(`client:${tx.clientID ?? 'anonymous'}`, client?.clientID ?? (tx.clientID ? tx.clientID : 'anonymous caller'), 'client');
    const path = [clientNode, ROUTER];
    const channel = tx.channelID ? channelById.get(tx.channelID) : undefined;
    const primary = channel?.routes?.find((r) => r.primary) ?? channel?.routes?.[0];
    if (primary) {
      path.push(upstreamNode(primary));
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

  // The running components, traffic or not: added after the flows so a traffic label stands.
  const touched = new Set([...edges.values()].flatMap((e) => [e.from, e.to]));
  const links = new Map<string, ConfiguredLink>();
  for (const m of mediators) addNode(`mediator:${m.urn}`, m.name, 'mediator');
  for (const channel of channels) {
    if (channel.status === 'disabled' || channel.status === 'deleted') continue;
    const primary = channel.routes?.find((r) => r.primary) ?? channel.routes?.[0];
    if (!primary) continue;
    const to = upstreamNode(primary);
    const id = `${ROUTER}>${to}`;
    if (!edges.has(id)) links.set(id, { id, from: ROUTER, to });
  }
  for (const registry of registries) {
    const label = REGISTRY_LABELS[registry.name] ?? registry.name;
    if (registry.host && registry.port) {
      const key = hostKey(registry.host, registry.port);
      // A channel may route straight to the registry: then that upstream node is the registry.
      const upstream = nodes.get(`upstream:${key}`);
      if (upstream) upstream.label = `${label} (${registry.host}:${registry.port})`;
      else addNode(`service:${key}`, `${label} (${registry.host}:${registry.port})`, 'service');
    } else {
      addNode(`registry:${registry.id}`, label, 'service');
    }
  }
  for (const node of nodes.values()) node.idle = node.id !== ROUTER && !touched.has(node.id);
  return { nodes: [...nodes.values()], edges: [...edges.values()], links: [...links.values()], flows: flows.reverse() };
}
