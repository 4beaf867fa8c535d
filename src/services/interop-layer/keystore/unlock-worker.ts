/**
 * Worker thread: decrypts one private key with its passphrase and hands back the plain PKCS#8
 * PEM. An encrypted PKCS#8 key names its own PBKDF2 iteration count, so decrypting it can take
 * seconds: here it blocks this thread only, and the caller stops waiting at its deadline.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPrivateKey } from 'node:crypto';

const { key, passphrase } = workerData as { key: string; passphrase: string };
let answer: { plain: string } | { unreadable: true };
try {
  const object = createPrivateKey({ key, format: 'pem', passphrase });
  answer = { plain: object.export({ type: 'pkcs8', format: 'pem' }) as string };
} catch {
  answer = { unreadable: true };
}
parentPort!.postMessage(answer);
