/**
 * The container targets' names and defaults the CLI shows in its help: kept apart from the
 * renderers and deployers, which load kubernetes-models (~1 s of CPU) that `--help` need not pay.
 */
export const DEFAULT_IMAGE = 'instant-openhie:0.1.0';
export const DEFAULT_POSTGRES_IMAGE = 'postgres:16';
export const DEPLOYERS = ['docker-compose', 'podman-compose', 'docker-stack', 'kubectl', 'podman-kube'] as const;
export type DeployerName = (typeof DEPLOYERS)[number];
