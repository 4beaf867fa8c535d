/**
 * NetworkPolicies of a Kubernetes render: the services' own ports need no login (they trust
 * whoever reaches them and expect clients to come through the router), so a cluster must not
 * let every pod reach them. Every pod of the instance denies ingress by default; then each
 * component admits:
 * - its published ports (the router's, the admin API, the console's web port) from anywhere:
 *   they authenticate their callers themselves;
 * - its other ports only from the components that call it (CALLERS below), the import job and
 *   the router (channels may route to any service);
 * - the ops port (/livez, /readyz, /metrics) only from namespaces labelled MONITORING_LABEL.
 *   Kubelet probes come from the node, which most CNIs (Calico, Cilium, the default kindnet)
 *   never filter by NetworkPolicy; a CNI that does needs the node's addresses allowed by hand.
 * PostgreSQL admits only the pods that mount the database URL. Replicas of one service never
 * talk to each other (they meet in PostgreSQL: LISTEN/NOTIFY, row locks), so no rule for them.
 * Egress is left open: an operator's channel may route to any upstream.
 */
import { NetworkPolicy, type INetworkPolicyIngressRule, type INetworkPolicyPeer, type INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1';
import { REGISTRY_SOURCES } from '../../services/console/registry-bases.js';
import { DATABASE_SERVICE, DATABASE_URL_SECRET, IMPORT_JOB, type ContainerComponent, type ContainerPlan } from './plan.js';
import { SERVICE_PEERS } from './service-network.js';

/** Label a namespace with this (value "true") to let its pods scrape the ops port (Prometheus). */
export const MONITORING_LABEL = 'instant.openhie.org/monitoring';

/** The component whose router calls every service a channel names. */
const ROUTER = 'interop-layer';

/**
 * Who calls a built-in service directly, besides the router and the import job: the console's
 * registry browsers and architecture view, the patient registration mediator, and SERVICE_PEERS.
 */
export function callersOf(provider: string): string[] {
  const callers = new Set<string>([ROUTER, IMPORT_JOB]);
  if (REGISTRY_SOURCES.some((source) => source.service === provider)) callers.add('console');
  if (provider === 'client-registry' || provider === 'shared-health-record') callers.add('patient-registration');
  for (const peer of SERVICE_PEERS) if (peer.provider === provider) callers.add(peer.consumer);
  callers.delete(provider);
  return [...callers].sort();
}

export function renderNetworkPolicies(plan: ContainerPlan, labels: (component: string) => Record<string, string>): NetworkPolicy[] {
  const partOf = { 'app.kubernetes.io/part-of': plan.project };
  const pods = (names: string[]): INetworkPolicyPeer => ({ podSelector: { matchLabels: partOf, matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: names }] } });
  const policy = (name: string, component: string, ingress: INetworkPolicyIngressRule[]) =>
    new NetworkPolicy({ metadata: { name, labels: labels(component) }, spec: { podSelector: { matchLabels: { ...partOf, 'app.kubernetes.io/name': component } }, policyTypes: ['Ingress'], ingress } });

  const policies = [new NetworkPolicy({ metadata: { name: `${plan.project}-default-deny-ingress`, labels: labels('network-policy') }, spec: { podSelector: { matchLabels: partOf }, policyTypes: ['Ingress'] } })];
  const deployed = new Set([...plan.components.map((c) => c.name), ...(plan.importJob ? [IMPORT_JOB] : [])]);
  for (const component of plan.components) {
    const rules = componentIngress(component, callersOf(component.name).filter((name) => deployed.has(name)), pods);
    if (rules.length) policies.push(policy(`${component.name}-ingress`, component.name, rules));
  }
  if (plan.database.kind === 'internal') {
    const users = plan.components.filter((c) => c.secrets.includes(DATABASE_URL_SECRET)).map((c) => c.name).sort();
    if (users.length) policies.push(policy(`${DATABASE_SERVICE}-ingress`, DATABASE_SERVICE, [{ from: [pods(users)], ports: [{ protocol: 'TCP', port: plan.database.port }] }]));
  }
  return policies;
}

function componentIngress(component: ContainerComponent, callers: string[], pods: (names: string[]) => INetworkPolicyPeer): INetworkPolicyIngressRule[] {
  const tcp = (port: number): INetworkPolicyPort => ({ protocol: 'TCP', port });
  const portOf = (p: ContainerComponent['ports'][number]): INetworkPolicyPort => ({ protocol: p.protocol ?? 'TCP', port: p.port });
  // The router is an entry point on both its ports: it authenticates every client (basic, certificate, token).
  const open = component.ports.filter((p) => p.published || (component.name === ROUTER && p.name.startsWith('router')));
  const internal = component.ports.filter((p) => !open.includes(p));
  const rules: INetworkPolicyIngressRule[] = [];
  if (open.length) rules.push({ ports: open.map(portOf) });
  if (internal.length && callers.length) rules.push({ from: [pods(callers)], ports: internal.map(portOf) });
  if (component.opsPort) rules.push({ from: [{ namespaceSelector: { matchLabels: { [MONITORING_LABEL]: 'true' } } }], ports: [tcp(component.opsPort)] });
  return rules;
}
