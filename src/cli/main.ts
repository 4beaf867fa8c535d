import { daemonArgv } from './daemon-args.js';
import { translateUpstreamArgv } from './upstream-compat.js';
import { Command, Option } from 'commander';
import { isInstantError, storageFailure } from '../common/errors.js';
import type { DeploymentOptions } from '../platform/deployment.js';
import { PACKAGE_TEMPLATES, scaffoldPackage } from '../platform/scaffold.js';
import { InstantError } from '../common/errors.js';
import { stateStoreFor } from '../platform/deployment.js';
import { isContainerTarget, TARGET_NAMES } from '../targets/target.js';
import { DEFAULT_IMAGE, DEFAULT_POSTGRES_IMAGE, DEPLOYERS } from '../targets/containers/defaults.js';
import { INTERRUPTED } from './interrupt.js';
import { quietOnClosedOutput, stackRunning } from './output.js';

quietOnClosedOutput(stackRunning);

// Each command's module is loaded when that command runs: the embedded target (Fastify, PGlite),
// the test harness (cucumber) and the rest cost ~1 s of CPU to load, which `instant status`,
// `config --get` or `--version` would otherwise pay every time.
const info = () => import('./info-commands.js');
const lifecycle = () => import('./lifecycle-commands.js');
const tests = () => import('./test-command.js');
const backups = () => import('./backup-commands.js');
const containers = () => import('./container-commands.js');

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface CommonFlags {
  profile?: string;
  env?: string[];
  envFile?: string[];
  settingsFile?: string[];
  only?: boolean;
  dev?: boolean;
  concurrency?: string;
  customPath?: string[];
  stateDir?: string;
  config?: string;
  resetConfig?: boolean;
}

function deploymentOptions(ids: string[], flags: CommonFlags): DeploymentOptions {
  return {
    packages: ids,
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.config ? { configFile: flags.config } : {}),
    customPaths: flags.customPath ?? [],
    envFiles: [...(flags.envFile ?? []), ...(flags.settingsFile ?? [])],
    assignments: flags.env ?? [],
    ...(flags.only !== undefined ? { only: flags.only } : {}),
    ...(flags.dev !== undefined ? { dev: flags.dev } : {}),
    ...(flags.concurrency ? { concurrency: Number(flags.concurrency) } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    ...(flags.resetConfig ? { resetConfig: true } : {}),
  };
}

/** The flags every package-selecting command shares. */
function withPackageFlags(command: Command): Command {
  return command
    .argument('[packages...]', 'package ids (default: the profile, instant.config.yaml, or what is initialised)')
    .option('-p, --profile <name>', 'a profile of instant.config.yaml')
    .option('-e, --env <NAME=value>', 'set a setting (repeatable; wins over everything)', collect)
    .option('--env-file <file>', 'read settings from a .env file (repeatable; later files win)', collect)
    // Node 20 takes --env-file anywhere in its own command line (nodejs/node#54232): through npx,
    // npx's node would, so the same flag has a name Node does not know.
    .option('--settings-file <file>', 'the same as --env-file; use it through npx on Node 20', collect)
    .option('--only', 'the named packages only, without their dependencies')
    .option('--dev', 'development mode (INSTANT_DEV=true)')
    .option('--concurrency <n>', 'independent packages handled at once', '5')
    .option('-c, --custom-path <dir>', 'a custom package, or a folder of them (repeatable)', collect)
    .option('--config <file>', 'project config file (default ./instant.config.yaml)')
    .option('--state-dir <dir>', 'state directory (default ./.instant or INSTANT_STATE_DIR)');
}

/** The target an instance was initialised on; none (embedded) when its state cannot be read: the embedded path reports why. */
function rememberedTarget(stateDir: string | undefined): string | undefined {
  try {
    return stateStoreFor(process.cwd(), stateDir).readState()?.target?.name;
  } catch {
    return undefined;
  }
}

const program = new Command('instant')
  .description('Instant OpenHIE: a whole OpenHIE health information exchange, from laptop to Kubernetes')
  .version('0.1.0')
  .showHelpAfterError();

for (const command of ['init', 'up'] as const) {
  const lifecycleCommand = withPackageFlags(program.command(command));
  // Importers run at init only: up leaves the configuration as it is.
  if (command === 'init') lifecycleCommand.option('--reset-config', "apply the packages' interoperability-layer items (channels, clients, roles) as they give them, over changes and deletions made since (kept by default)");
  lifecycleCommand
    .description(command === 'init' ? 'deploy and configure packages the first time (runs importers)' : 'start initialised packages again (no re-import)')
    .option('-d, --detach', 'run in the background; stop with `instant down`')
    .option('-w, --watch', "reload a custom package's service when its files change (development)")
    .addOption(new Option('-t, --target <target>', 'where to run (default: embedded, or where the instance was initialised)').choices([...TARGET_NAMES]))
    .option('--database-url <url>', 'use this PostgreSQL server instead of the embedded database (or INSTANT_DATABASE_URL); on a container target, instead of a PostgreSQL container')
    .option('--render-only <dir>', 'container targets: write the files to DIR and deploy nothing (review, GitOps)')
    .option('--image <ref>', `container targets: the image of the services (default ${DEFAULT_IMAGE}, built from the Containerfile)`)
    .option('--postgres-image <ref>', `container targets: the PostgreSQL image (default ${DEFAULT_POSTGRES_IMAGE})`)
    .option('--deployer <name>', `container targets: ${DEPLOYERS.join(', ')} (default: the one installed)`)
    .action(async (ids: string[], flags: CommonFlags & { detach?: boolean; watch?: boolean; databaseUrl?: string; target?: string; renderOnly?: string; image?: string; postgresImage?: string; deployer?: string }) => {
      const target = flags.target ?? (flags.renderOnly ? undefined : rememberedTarget(flags.stateDir)) ?? 'embedded';
      if (isContainerTarget(target)) {
        const databaseUrl = flags.databaseUrl ?? process.env.INSTANT_DATABASE_URL;
        return (await containers()).containerStartCommand(command, target, deploymentOptions(ids, flags), { ...(flags.renderOnly ? { renderOnly: flags.renderOnly } : {}), ...(flags.image ? { image: flags.image } : {}), ...(flags.postgresImage ? { postgresImage: flags.postgresImage } : {}), ...(flags.deployer ? { deployer: flags.deployer } : {}), ...(databaseUrl ? { databaseUrl } : {}) });
      }
      if (flags.renderOnly) throw new InstantError('INSTANT_TARGET_UNSUPPORTED', '--render-only writes the files of a container target', 'add -t compose, -t swarm or -t kubernetes');
      await (await lifecycle()).startCommand(command, deploymentOptions(ids, flags), { ...(flags.detach ? { detach: true } : {}), ...(flags.watch ? { watch: true } : {}), ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}) });
    });
}

withPackageFlags(program.command('down'))
  .description('stop packages (dependents first); data is kept')
  .action(async (ids: string[], flags: CommonFlags) => {
    if (!(await (await containers()).containerStop(deploymentOptions(ids, flags), false))) await (await lifecycle()).downCommand(deploymentOptions(ids, flags));
  });

withPackageFlags(program.command('destroy'))
  .description('stop packages and delete their data (the named ones only; all with no names)')
  .option('-y, --yes', 'do not ask for confirmation')
  .option('--database-url <url>', 'the PostgreSQL server the instance uses, if it is not remembered')
  .option('--with-dependencies', 'also delete the data of the named packages\' dependencies (kept by default)')
  .action(async (ids: string[], flags: CommonFlags & { yes?: boolean; databaseUrl?: string; withDependencies?: boolean }) => {
    if (await (await containers()).containerStop(deploymentOptions(ids, flags), true, flags.yes ?? false)) return;
    await (await lifecycle()).destroyCommand(deploymentOptions(ids, flags), { ...(flags.yes ? { yes: true } : {}), ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}), ...(flags.withDependencies ? { withDependencies: true } : {}) });
  });

program
  .command('backup')
  .description("copy the instance's whole database to one file (progress on stderr; prints the file)")
  .argument('[file]', 'where to write (default ./instant-backup-<time>.<kind>)')
  .option('--format <format>', 'auto (native where possible), native (embedded archive or pg_dump) or logical (either driver)', 'auto')
  .option('--database-url <url>', 'the PostgreSQL server, if the instance does not remember it')
  .option('--state-dir <dir>', 'state directory')
  .action(async (file: string | undefined, flags: { format?: string; databaseUrl?: string; stateDir?: string }) => (await backups()).backupCommand(file, flags));

program
  .command('restore')
  .description("replace the instance's data with a backup (the instance must be stopped)")
  .argument('<file>', 'a file made by instant backup')
  .option('-y, --yes', 'do not ask for confirmation')
  .option('--database-url <url>', 'the PostgreSQL server, if the instance does not remember it')
  .option('--state-dir <dir>', 'state directory')
  .action(async (file: string, flags: { yes?: boolean; databaseUrl?: string; stateDir?: string }) => (await backups()).restoreCommand(file, flags));

program
  .command('status')
  .description('what is initialised and running, and the health of each service')
  .option('--state-dir <dir>', 'state directory')
  .option('--json', 'machine-readable output')
  .action(async (flags: { stateDir?: string; json?: boolean }) => {
    if (!(await (await containers()).containerStatus(stateStoreFor(process.cwd(), flags.stateDir), flags.json ?? false))) await (await info()).statusCommand(flags);
  });

program
  .command('logs')
  .description("show the services' logs")
  .argument('[service]', 'one service (default: all)')
  .option('-f, --follow', 'keep printing new lines')
  .option('-n, --lines <n>', 'how many recent lines', '200')
  .option('--json', 'raw JSON lines')
  .option('--state-dir <dir>', 'state directory')
  .action(async (service: string | undefined, flags: { follow?: boolean; lines: string; json?: boolean; stateDir?: string }) => {
    if (!(await (await containers()).containerLogs(stateStoreFor(process.cwd(), flags.stateDir), service, { lines: Number(flags.lines), ...(flags.follow ? { follow: true } : {}) }))) await (await info()).logsCommand(service, { ...flags, lines: Number(flags.lines) });
  });

program
  .command('serve')
  .description("run one built-in service in this process: a container's entry point (settings from the environment, secrets from NAME_FILE files, data in PostgreSQL)")
  .argument('<service>', 'the service, e.g. interop-layer')
  .action(async (service: string) => (await containers()).serveCommand(service));

program
  .command('import')
  .description("apply the packages' importers to running services (the import job of the container targets)")
  .argument('<packages...>', 'package ids')
  .option('--reset-config', "apply every item as the packages give it, over an operator's changes and deletions")
  .action(async (ids: string[], flags: { resetConfig?: boolean }) => (await containers()).importCommand(ids, { resetConfig: flags.resetConfig === true }));

program
  .command('list')
  .description('packages, their type, dependencies and state')
  .option('-c, --custom-path <dir>', 'a custom package, or a folder of them (repeatable)', collect)
  .option('--config <file>', 'project config file')
  .option('--state-dir <dir>', 'state directory')
  .action(async (flags: { customPath?: string[]; config?: string; stateDir?: string }) =>
    (await info()).listCommand({ customPaths: flags.customPath ?? [], ...(flags.config ? { configFile: flags.config } : {}), ...(flags.stateDir ? { stateDir: flags.stateDir } : {}) }),
  );

withPackageFlags(program.command('config'))
  .description('the resolved settings and where each comes from (secrets masked)')
  .option('--show-secrets', 'show secret values')
  .option('--get <name>', 'print one value, unmasked (for scripts)')
  .option('--json', 'machine-readable output')
  .action(async (ids: string[], flags: CommonFlags & { showSecrets?: boolean; get?: string; json?: boolean }) =>
    (await info()).configCommand({ ...deploymentOptions(ids, flags), ...(flags.showSecrets ? { showSecrets: true } : {}), ...(flags.get ? { get: flags.get } : {}), ...(flags.json ? { json: true } : {}) }),
  );

withPackageFlags(program.command('test'))
  .description("run the packages' Gherkin features against the running stack")
  .option('--base-url <url>', 'test a remote stack at this URL (as ${BASE_URL})')
  .action(async (ids: string[], flags: CommonFlags & { baseUrl?: string }) => (await tests()).testCommand({ ...deploymentOptions(ids, flags), ...(flags.baseUrl ? { baseUrl: flags.baseUrl } : {}) }));

program
  .command('package')
  .description('work with packages')
  .command('new')
  .description('scaffold a working custom package from a template, with features that prove it')
  .argument('<id>', 'package id, kebab-case')
  .option('--dir <dir>', 'parent folder', '.')
  .option('--port <port>', 'port of its service (service and mediator templates; default from the id, 4100-4999)')
  .option('-t, --template <template>', `what to start from: ${Object.entries(PACKAGE_TEMPLATES).map(([name, what]) => `${name} (${what})`).join('; ')}`, 'service')
  .action((id: string, flags: { dir: string; port?: string; template: string }) => {
    const dir = scaffoldPackage(id, flags.dir, { ...(flags.port !== undefined ? { port: flags.port } : {}), template: flags.template });
    process.stdout.write(`Created ${dir} (template ${flags.template})\nDeploy it: instant init ${id} -c ${flags.dir} -d\nTest it:   instant test ${id} -c ${flags.dir}\n`);
  });

try {
  const upstream = translateUpstreamArgv(daemonArgv(process.argv));
  if (upstream.note) process.stderr.write(`instant: ${upstream.note}\n`);
  await program.parseAsync(upstream.argv);
} catch (error) {
  // A file-system failure anywhere (full disk, read-only mount, permissions) is an operator's
  // error with a code and a hint, not a stack trace.
  const failure = isInstantError(error) ? error : storageFailure(error, (error as { path?: string }).path ?? 'the state directory');
  if (failure) {
    process.stderr.write(`instant: ${failure.describe()}\n  (${failure.code}: see docs/errors.md)\n`);
  } else {
    process.stderr.write(`instant: ${(error as Error).stack ?? String(error)}\n`);
  }
  // Exit now: what failed may have left a handle open (a database thread that never started)
  // and a failed command must return, not hang. stderr is synchronous for files, pipes and TTYs.
  // 130, as a shell reports a Ctrl-C: the start was interrupted, and the message says what was stopped.
  process.exit(failure?.code === INTERRUPTED ? 130 : 1);
}
