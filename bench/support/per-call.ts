/** µs per call of `fn` over a time budget in ms, after `warmUp` calls: for micro-benchmarks of pure functions. */
export function perCall(fn: () => unknown, budgetMs: number, warmUp = 20): number {
  for (let i = 0; i < warmUp; i++) fn();
  let calls = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(budgetMs) * 1_000_000n;
  let now = start;
  while (now < end) {
    fn();
    calls++;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / calls / 1000;
}
