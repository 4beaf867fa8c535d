/** Status of a GET over HTTPS with the given TLS options (a client certificate, say), on a connection of its own. */
import https from 'node:https';

export function httpsGet(url: string, options: https.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { rejectUnauthorized: false, agent: false, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
