/** How lifecycle work reports progress; the CLI renders it, a detached child forwards it. */
export interface Progress {
  /** A step of the instance as a whole (opening the database, starting the background process): always named, so no wait is silent. */
  step(message: string): void;
  packageStep(packageId: string, message: string): void;
  packageDone(packageId: string, message: string, elapsedMs: number): void;
  info(message: string): void;
}

export const silentProgress: Progress = {
  step() {},
  packageStep() {},
  packageDone() {},
  info() {},
};
