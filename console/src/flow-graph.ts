/**
 * The exchange as a graph, built from what the admin API tells: each transaction's client, the
 * router, the upstream its channel routed to (a mediator when a registered mediator listens
 * there) and the services the mediator called (its orchestrations). The running components are
 * there before any traffic: every registered mediator, every enabled channel's upstream (joined
 * to the router by a configured link) and the registries the console finds running; those no
 * recent transaction touched are marked idle. When the console server knows the deployment
 * (GET /console/deployment), its services are drawn too, each in its package's group, placed by
 * address so the traffic to a service lands on it. Pure: the view draws it.
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
  /** The deployed package this node belongs to (its id), when the deployment is known. */
  group?: string;
  /** The deployed service the node is. */
  service?: string;
}

/** The console server's view of the deployment (GET /console/deployment); endpoints for admins only. */
export interface DeploymentView {
  known: boolean;
  target?: string;
  packages: Array<{ id: string; name: string; version: string; services: string[] }>;
  services: Array<{ name: string; package: string; endpoints?: Record<string, string> }>;
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
  /** The deployed packages, in deployment order (empty when the console was told nothing). */
  packages: DeploymentView['packages'];
}

const REGISTRY_LABELS: Record<string, string> = {
  'shared-health-record': 'Shared health record',
  'client-registry': 'Client registry',
  terminology: 'Terminology service',
  'care-services': 'Care services',
  'patient-registration': 'Patient registration',
  console: 'Web console',
};
const INTEROP_LAYER = 'interop-layer';
const CONSOLE = 'console';

const ROUTER = 'router';
const COLUMN: Record<NodeKind, number> = { client: 0, router: 1, mediator: 2, service: 3 };

function hostKey(host: unknown, port: unknown): string {
  return `${String(host ?? '').toLowerCase()}:${String(port ?? '')}`;
}

/** host:port of each http(s) endpoint of a deployed service, once each. */
function endpointKeys(endpoints: Record<string, string> | undefined): Array<{ key: string; host: string; port: string }> {
  const keys = new Map<string, { key: string; host: string; port: string }>();
  for (const value of Object.values(endpoints ?? {})) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const key = hostKey(host, port);
    if (!keys.has(key)) keys.set(key, { key, host, port });
  }
  return [...keys.values()];
}

export function buildFlowGraph(transactions: Transaction[], channels: Channel[], clients: Client[], mediators: Mediator[], registries: RunningRegistry[] = [], deployment?: DeploymentView): FlowGraph {
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
  // The deployed services, in their packages: the router is the interop layer's; the others are
  // placed by address (a mediator or channel upstream listening there is that service).
  const deployedServices = new Set<string>();
  for (const service of deployment?.known ? deployment.services : []) {
    deployedServices.add(service.name);
    const label = REGISTRY_LABELS[service.name] ?? service.name;
    const claim = (id: string, relabel?: string) => {
      const node = nodes.get(id)!;
      node.group = service.package;
      node.service = service.name;
      if (relabel) node.label = relabel;
    };
    if (service.name === INTEROP_LAYER) {
      claim(ROUTER);
      continue;
    }
    if (service.name === CONSOLE) {
      nodes.set(`deployed:${CONSOLE}`, { id: `deployed:${CONSOLE}`, label, kind: 'service', column: COLUMN.router, idle: false });
      claim(`deployed:${CONSOLE}`);
      continue;
    }
    const keys = endpointKeys(service.endpoints);
    if (!keys.length) {
      addNode(`deployed:${service.name}`, label, 'service');
      claim(`deployed:${service.name}`);
      continue;
    }
    for (const { key, host, port } of keys) {
      const mediator = mediatorAt.get(key);
      if (mediator) claim(addNode(`mediator:${mediator.urn}`, mediator.name, 'mediator'));
      else if (nodes.has(`upstream:${key}`)) claim(`upstream:${key}`, `${label} (${host}:${port})`);
      else if (nodes.has(`service:${key}`)) claim(`service:${key}`);
      else claim(addNode(`service:${key}`, `${label} (${host}:${port})`, 'service'));
    }
  }
  for (const registry of registries) {
    const label = REGISTRY_LABELS[registry.name] ?? registry.name;
    // Already drawn as a deployed service (by name, for those who see no addresses).
    if (!registry.host && deployedServices.has(registry.name)) continue;
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
  return { nodes: [...nodes.values()], edges: [...edges.values()], links: [...links.values()], flows: flows.reverse(), packages: deployment?.known ? deployment.packages : [] };
}
