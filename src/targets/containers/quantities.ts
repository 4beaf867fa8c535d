/** Kubernetes quantities (cpu 250m, memory 512Mi) in Compose's units (cpus 0.25, memory 512m). */
export function composeCpus(cpu: string | undefined): string | undefined {
  if (!cpu) return undefined;
  return cpu.endsWith('m') ? String(Number(cpu.slice(0, -1)) / 1000) : cpu;
}

const MEMORY_UNITS: Record<string, string> = { Ki: 'k', Mi: 'm', Gi: 'g', Ti: 't', k: 'k', M: 'm', G: 'g', T: 't', '': 'b' };

export function composeMemory(memory: string | undefined): string | undefined {
  if (!memory) return undefined;
  const match = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(memory);
  if (!match) return memory;
  // Binary units are what Docker means by k, m and g.
  return `${match[1]}${MEMORY_UNITS[match[2] ?? '']}`;
}
