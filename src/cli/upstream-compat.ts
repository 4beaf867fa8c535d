/**
 * Upstream Instant OpenHIE v2's command forms, translated to ours before parsing, so scripts and
 * habits carry over:
 *   instant package init|up|down|remove -n ID [-n ID ...]   -> instant init|up|down|destroy ID ...
 *   instant project init|up|down|remove                     -> the same over the project's packages
 *   instant package generate                                -> instant package new
 * Upstream flags keep their meaning: `-n/--name` names packages, `-d/--dev` is development mode
 * (not our `-d`, detach), `-o/--only`, `--env-var`, `--custom-path`. Upstream runs the stack in
 * the background (Docker), so init and up run detached; remove deletes without asking, as there.
 */

const LIFECYCLE: Readonly<Record<string, string>> = { init: 'init', up: 'up', down: 'down', remove: 'destroy' };
/** Upstream flag -> ours; flags absent here pass through unchanged (-e, --env-file, -c, -p, --config). */
const FLAGS: Readonly<Record<string, string>> = { '-d': '--dev', '--dev': '--dev', '-o': '--only', '--only': '--only', '--env-var': '--env', '--custom-path': '--custom-path' };
const NAME_FLAGS = new Set(['-n', '--name']);

export interface Translation {
  argv: string[];
  /** What was translated, for a one-line note on stderr. */
  note?: string;
}

/** `argv` as process.argv (node, script, ...args). */
export function translateUpstreamArgv(argv: readonly string[]): Translation {
  const [node, script, scope, verb, ...rest] = argv;
  if ((scope !== 'package' && scope !== 'project') || verb === undefined) return { argv: [...argv] };
  if (scope === 'package' && verb === 'generate') return { argv: [node!, script!, 'package', 'new', ...rest], note: '`package generate` is `package new` here' };
  const command = LIFECYCLE[verb];
  if (!command) return { argv: [...argv] };

  const names: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    const [flag, inlineValue] = splitInline(arg);
    if (NAME_FLAGS.has(flag)) {
      const value = inlineValue ?? rest[++i];
      if (value !== undefined) names.push(...value.split(',').map((s) => s.trim()).filter(Boolean));
    } else if (FLAGS[flag]) {
      flags.push(inlineValue === undefined ? FLAGS[flag]! : `${FLAGS[flag]!}=${inlineValue}`);
    } else {
      flags.push(arg);
    }
  }
  const extra = command === 'init' || command === 'up' ? ['--detach'] : command === 'destroy' ? ['--yes'] : [];
  const translated = [node!, script!, command, ...names, ...flags, ...extra];
  // The note names the command, not the flags: -e values may be secrets.
  return { argv: translated, note: `upstream form \`${scope} ${verb}\`: running \`instant ${[command, ...names, ...extra].join(' ')}\`` };
}

function splitInline(arg: string): [string, string | undefined] {
  if (!arg.startsWith('--')) return [arg, undefined];
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
