/**
 * The images the podman tests deploy, built here because no image registry is reachable:
 *   base      a Debian root filesystem (mmdebstrap, from Debian's packages) with this machine's
 *             Node binary copied in and PostgreSQL 15 installed; stands in for node:20 and postgres
 *   postgres  the base with an entry point that reads the official image's variables
 *   instant   the project's Containerfile on the base (BASE_IMAGE build argument)
 * Each is tagged by a hash of what it is made from and kept in podman's store (the root
 * filesystem's tarball under the cache folder): a second run builds only what changed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runEngine } from '../../../src/targets/containers/engine-command.js';
import { repoRoot } from '../../support/cli.js';

export const CACHE_DIR = process.env.INSTANT_TEST_CACHE ?? '/var/tmp/instant-test-cache';
const FIXTURES = join(repoRoot, 'test', 'containers', 'fixtures');
const DEBIAN_PACKAGES = 'postgresql-15,ca-certificates';
const MINUTE = 60_000;
/** Repository prefix of the test images: another prefix keeps two checkouts' test runs apart. */
const IMAGES = process.env.INSTANT_TEST_IMAGE_PREFIX ?? 'localhost/';

export interface TestImages {
  instant: string;
  postgres: string;
}

function hashOf(parts: Array<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((file) => join(dir, file))
    .filter((file) => statSync(file).isFile())
    .sort();
}

async function imageExists(tag: string): Promise<boolean> {
  return (await runEngine('podman', ['image', 'exists', tag], { timeoutMs: 30_000, allowFailure: true })).code === 0;
}

/**
 * Removes a repository's tags made more than two hours ago, but the given one (the cache does not
 * grow run after run). Never forced, and only old tags: an image a container still runs (another
 * checkout's test run on the same podman) is left alone, where `rmi -f` would remove that run's
 * containers with it.
 */
async function dropOlderTags(repository: string, keep: string): Promise<void> {
  const { stdout } = await runEngine('podman', ['images', '--filter', `reference=${repository}`, '--filter', 'until=2h', '--format', '{{.Repository}}:{{.Tag}}'], { timeoutMs: 30_000, allowFailure: true });
  for (const tag of stdout.split('\n').filter((t) => t && t !== keep)) await runEngine('podman', ['rmi', tag], { timeoutMs: 60_000, allowFailure: true });
}

async function baseImage(): Promise<string> {
  const node = process.execPath;
  const key = hashOf([readFileSync(node), DEBIAN_PACKAGES, 'bookworm-minbase']);
  const tag = `localhost/instant-test-base:${key}`;
  if (await imageExists(tag)) return tag;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tarball = join(CACHE_DIR, `rootfs-${key}.tar`);
  if (!existsSync(tarball)) {
    await runEngine('mmdebstrap', ['--variant=minbase', '--format=tar', `--include=${DEBIAN_PACKAGES}`, `--customize-hook=copy-in ${node} /usr/local/bin`, 'bookworm', `${tarball}.part`], { timeoutMs: 15 * MINUTE });
    await runEngine('mv', [`${tarball}.part`, tarball], { timeoutMs: MINUTE });
  }
  await runEngine('podman', ['import', tarball, tag], { timeoutMs: 10 * MINUTE });
  await dropOlderTags('localhost/instant-test-base', tag);
  return tag;
}

async function postgresImage(base: string): Promise<string> {
  const key = hashOf([base, ...['Containerfile.postgres', 'postgres-entrypoint.sh'].map((f) => readFileSync(join(FIXTURES, f)))]);
  const tag = `${IMAGES}instant-test-postgres:${key}`;
  if (await imageExists(tag)) return tag;
  await runEngine('podman', ['build', '--format', 'docker', '--build-arg', `BASE_IMAGE=${base}`, '-t', tag, '-f', join(FIXTURES, 'Containerfile.postgres'), FIXTURES], { timeoutMs: 10 * MINUTE });
  await dropOlderTags(`${IMAGES}instant-test-postgres`, tag);
  return tag;
}

async function instantImage(base: string): Promise<string> {
  const inputs = [join(repoRoot, 'Containerfile'), join(repoRoot, 'package-lock.json'), ...filesUnder(join(repoRoot, 'dist', 'src')), ...filesUnder(join(repoRoot, 'dist', 'definitions')), ...filesUnder(join(repoRoot, 'packages'))];
  const key = hashOf([base, ...inputs.flatMap((file) => [file.slice(repoRoot.length), readFileSync(file)])]);
  const tag = `${IMAGES}instant-openhie-test:${key}`;
  if (await imageExists(tag)) return tag;
  const context = join(CACHE_DIR, 'image-context');
  await runEngine(join(repoRoot, 'scripts', 'image-context.sh'), [context], { timeoutMs: 10 * MINUTE });
  await runEngine('podman', ['build', '--format', 'docker', '--build-arg', `BASE_IMAGE=${base}`, '-t', tag, '-f', join(repoRoot, 'Containerfile'), context], { timeoutMs: 15 * MINUTE });
  await dropOlderTags(`${IMAGES}instant-openhie-test`, tag);
  return tag;
}

export async function buildTestImages(): Promise<TestImages> {
  const base = await baseImage();
  return { postgres: await postgresImage(base), instant: await instantImage(base) };
}

/** Why the podman tests cannot run here, or undefined when they can. */
export async function podmanUnavailable(): Promise<string | undefined> {
  if (process.env.INSTANT_PODMAN_TESTS === '0') return 'INSTANT_PODMAN_TESTS=0';
  for (const program of ['podman', 'podman-compose', 'mmdebstrap']) {
    const found = (process.env.PATH ?? '').split(':').some((dir) => existsSync(join(dir, program)));
    if (!found) return `${program} is not installed (.ci/run installs it)`;
  }
  try {
    await runEngine('podman', ['info', '--format', '{{.Host.OCIRuntime.Name}}'], { timeoutMs: 30_000 });
  } catch (error) {
    return `podman does not work here: ${(error as Error).message}`;
  }
  return undefined;
}
