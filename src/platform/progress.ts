/** How lifecycle work reports progress; the CLI renders it, a detached child forwards it. */
export interface Progress {
  packageStep(packageId: string, message: string): void;
  packageDone(packageId: string, message: string, elapsedMs: number): void;
  info(message: string): void;
}

export const silentProgress: Progress = {
  packageStep() {},
  packageDone() {},
  info() {},
};
