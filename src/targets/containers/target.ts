/**
 * The compose, swarm and kubernetes targets: plan the containers from the deployment, write the
 * files (the instance's folder, or --render-only DIR), and where a deployer is installed run
 * them and wait for the import. Secrets are generated with the instance's others (secrets.json)
 * and reach the engine only as Docker/Kubernetes secrets.
 */
import { importNotices } from './import-notices.js';
import { join } from 'node:path';
import { InstantError } from '../../common/errors.js';
import type { Deployment } from '../../platform/deployment.js';
import { generateSecret, ensureSecrets } from '../../platform/secrets.js';
import type { StateStore, TargetRecord } from '../../platform/state-store.js';
import type { ContainerTargetName, DeployOutcome, DeployRequest, LogOptions, StopOutcome, Target, TargetStatus } from '../target.js';
import { writeArtefacts } from './artefacts.js';
import { chooseDeployer, deployer as deployerNamed, deployersFor, type DeployerName } from './deployers.js';
import { APP_PASSWORD_SECRET, DATABASE_URL_SECRET, IMPORT_JOB, planContainers, POSTGRES_PASSWORD_SECRET, type ContainerPlan } from './plan.js';
import { podmanPodAddress } from './podman-kube.js';
import { composeHostEndpoints, publishesOnHost, renderSwarmOptIns } from './compose.js';

export interface ContainerTargetOptions {
  /** The instance's PostgreSQL is an external server whose URL init kept with the secrets. */
  externalDatabase?: boolean;
  /** Write the files there and deploy nothing. */
  renderOnly?: string;
  image?: string;
  postgresImage?: string;
  /** docker-compose, podman-compose, docker-stack, kubectl or podman-kube (default: the one installed). */
  deployer?: string;
  /**
   * Told where the instance goes just before the engine runs, so the platform records it and a
   * deploy that fails half-way can still be destroyed.
   */
  beforeEngine?: (record: TargetRecord) => void;
}

export interface ContainerDeployOutcome extends DeployOutcome {
  artefactsDir: string;
  /** Undefined when only rendered. */
  deployer?: DeployerName;
  plan: ContainerPlan;
}

export function containerTarget(name: ContainerTargetName, options: ContainerTargetOptions = {}): Target<ContainerDeployOutcome> {
  return {
    name,
    async deploy(request: DeployRequest): Promise<ContainerDeployOutcome> {
      const { deployment, progress } = request;
      const { store } = deployment;
      store.ensure();
      const { secrets, generated } = ensureSecrets(store, deployment.plan.ordered, request.command === 'init');
      // An external server's URL is kept with the instance's secrets (0600), so `up` finds it again.
      if (request.databaseUrl && secrets[DATABASE_URL_SECRET] !== request.databaseUrl) {
        secrets[DATABASE_URL_SECRET] = request.databaseUrl;
        store.writeSecrets(secrets);
      }
      const databaseUrl = request.databaseUrl ?? (options.externalDatabase ? secrets[DATABASE_URL_SECRET] : undefined);
      if (options.externalDatabase && !databaseUrl) {
        throw new InstantError('INSTANT_DATABASE_URL_MISSING', `the instance uses an external PostgreSQL whose URL is not in ${store.secretsFile}`, 'pass --database-url again');
      }
      // The database container's superuser, and the application role the services connect as.
      for (const secret of [POSTGRES_PASSWORD_SECRET, APP_PASSWORD_SECRET]) {
        if (secrets[secret] || databaseUrl) continue;
        secrets[secret] = generateSecret(32);
        store.writeSecrets(secrets);
        generated.push(secret);
      }
      const chosen = options.renderOnly ? undefined : await chooseDeployer(name, options.deployer);
      if (!options.renderOnly && !chosen) {
        throw new InstantError('INSTANT_ENGINE_MISSING', `no program to deploy the ${name} target: none of ${deployersFor(name).join(', ')} is installed`, `install one, or write the files with --render-only DIR and deploy them yourself`);
      }
      const settings = deployment.settingsWith(secrets);
      const plan = await planContainers(deployment, {
        settings,
        postgresPassword: secrets[POSTGRES_PASSWORD_SECRET] ?? '',
        target: name,
        appPassword: secrets[APP_PASSWORD_SECRET] ?? '',
        ...(options.image ? { image: options.image } : {}),
        ...(options.postgresImage ? { postgresImage: options.postgresImage } : {}),
        ...(databaseUrl ? { databaseUrl } : {}),
        ...(chosen?.name === 'podman-kube' ? { address: podmanPodAddress } : {}),
      });
      const dir = options.renderOnly ?? join(store.dir, name);
      const manifest = writeArtefacts(dir, name, plan, chosen?.extraFiles?.(plan) ?? {});
      progress.step(`wrote ${manifest} (secrets in ${join(dir, 'secrets')})`);
      // Said whether the files are deployed here or by hand (--render-only): compose cannot publish a replicated service.
      const unpublished = name === 'compose' ? plan.components.filter((c) => !publishesOnHost(c, 'compose') && plan.hostEndpoints[c.name]) : [];
      for (const component of unpublished) {
        progress.step(`${component.name} runs ${component.replicas} replicas: compose publishes no host port for it (they would clash); put a proxy in front, or use -t swarm or -t kubernetes`);
      }
      if (!chosen) {
        // Rendered from an instance that already had secrets (a laptop's demo, most often): said, so they do not become production's unnoticed.
        // A state directory that only ever rendered (no package initialised in state.json) is the production one docs/production.md
        // asks for: rendering it again (another target, a profile, a rotated secret) is meant to reuse its secrets.
        const deployedBefore = Object.keys(store.readState()?.packages ?? {}).length > 0;
        const reused = [...deployment.plan.ordered.flatMap((pkg) => pkg.secrets.map((s) => s.name)), POSTGRES_PASSWORD_SECRET, APP_PASSWORD_SECRET]
          .filter((secret) => deployedBefore && secrets[secret] && !generated.includes(secret));
        if (reused.length) {
          progress.info(`note: the files carry secrets this instance already had (${reused.slice(0, 4).join(', ')}${reused.length > 4 ? ', ...' : ''}, kept in ${store.secretsFile}), not fresh ones; for production render from a state directory of its own (--state-dir DIR), whose first render generates them (docs/production.md, "Production gets fresh secrets")`);
        }
        return { endpoints: {}, generatedSecrets: generated, artefactsDir: dir, plan };
      }
      const context = { dir, manifest, project: plan.project };
      const endpoints = name === 'kubernetes' && chosen.name === 'kubectl' ? {} : name === 'swarm' ? composeHostEndpoints(plan, 'swarm') : { ...plan.hostEndpoints };
      for (const component of unpublished) delete endpoints[component.name];
      if (name === 'swarm') {
        for (const optIn of renderSwarmOptIns(plan)) progress.step(`${optIn.what} is not published on a swarm (its ingress would bind every node): see ${optIn.file} and docs/production.md to publish it`);
      }
      options.beforeEngine?.({
        name,
        artefactsDir: dir,
        deployer: chosen.name,
        project: plan.project,
        endpoints,
        image: plan.image,
        ...(plan.database.kind === 'internal' ? { postgresImage: plan.database.image } : { externalDatabase: true }),
      });
      progress.step(`deploying with ${chosen.name}`);
      request.signal?.throwIfAborted();
      await chosen.up(context, plan);
      if (plan.importJob && request.command === 'init') {
        progress.step('waiting for the services and the import');
        await chosen.waitForImport(context);
        // What the import kept of an operator's changes, from its log (a retried job may say it twice).
        const log = await chosen.logs(context, IMPORT_JOB, { lines: 2000 }).catch(() => '');
        for (const notice of importNotices(log)) progress.info(notice);
      }
      return { endpoints, generatedSecrets: generated, artefactsDir: dir, deployer: chosen.name, plan };
    },

    async stop(deployment: Deployment): Promise<StopOutcome | undefined> {
      const record = recordOf(deployment.store);
      if (!record) return undefined;
      await deployerNamed(record.deployer as DeployerName).down(contextOf(record));
      return { stopped: Object.keys(deployment.store.readState()?.packages ?? {}), remaining: [] };
    },

    async destroy(deployment: Deployment): Promise<StopOutcome | undefined> {
      const record = recordOf(deployment.store);
      if (!record) return undefined;
      await deployerNamed(record.deployer as DeployerName).destroy(contextOf(record));
      return { stopped: Object.keys(deployment.store.readState()?.packages ?? {}), remaining: [] };
    },

    async status(store: StateStore): Promise<TargetStatus> {
      const record = recordOf(store);
      if (!record) return { running: false, services: [] };
      const services = [];
      for (const [service, urls] of Object.entries(record.endpoints)) {
        const base = urls.api ?? Object.values(urls)[0];
        let health = 'no endpoint here';
        if (base) {
          try {
            const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
            health = response.ok ? 'healthy' : `unhealthy (HTTP ${response.status})`;
          } catch (error) {
            health = `unreachable (${(error as Error).message})`;
          }
        }
        services.push({ name: service, health, endpoints: urls });
      }
      const listing = await deployerNamed(record.deployer as DeployerName).ps(contextOf(record));
      return { running: true, where: `${record.name} project ${record.project} with ${record.deployer} (files in ${record.artefactsDir})\n${listing.trimEnd()}`, services };
    },

    async logs(store: StateStore, service: string | undefined, logOptions: LogOptions): Promise<void> {
      const record = recordOf(store);
      if (!record) throw new InstantError('INSTANT_NO_LOGS', `nothing deployed on ${name} from ${store.dir}`, '`instant init -t <target> <package>` first');
      logOptions.out.write(await deployerNamed(record.deployer as DeployerName).logs(contextOf(record), service, logOptions));
    },
  };
}

function recordOf(store: StateStore): TargetRecord | undefined {
  return store.readState()?.target;
}

function contextOf(record: TargetRecord) {
  return { dir: record.artefactsDir, manifest: join(record.artefactsDir, record.name === 'compose' ? 'compose.yaml' : record.name === 'swarm' ? 'stack.yaml' : 'kubernetes.yaml'), project: record.project };
}

