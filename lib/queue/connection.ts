// Redis for the run queue: the URL checked and shown without its password, a first contact that
// fails fast with the URL named, and long-lived clients that reconnect when Redis comes back.
import { Redis } from 'ioredis';
import { ConfigError, PlfError } from '../errors.js';

export class QueueError extends PlfError {}

/** The BullMQ queue every submitter and worker uses (one per Redis database). */
export const QUEUE_NAME = 'plf-native-runs';

export interface RedisTarget {
  url: string;
  /** the URL as messages show it: no password */
  shown: string;
}

export function redisTarget(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}: not a URL (redis://host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new ConfigError(`--queue must be a redis:// or rediss:// URL, got ${u.protocol}//…`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d{1,2}$/.test(db)) throw new ConfigError(`--queue: the database must be a number (redis://host:port/0), got '${db}'`);
  if (u.password) u.password = '***';
  return { url, shown: u.toString() };
}

/** log(), said at most once per `ms` (a Redis outage fires an error per reconnect attempt). */
export function throttled(log: (m: string) => void, ms = 10_000): (m: string) => void {
  let said = 0;
  return (m) => {
    if (Date.now() - said < ms) return;
    said = Date.now();
    log(m);
  };
}

/** A client for a long-running submitter or worker: commands wait while Redis is away, reconnecting every ≤ 2 s. */
export function connect(t: RedisTarget, onError?: (e: Error) => void): Redis {
  const c = new Redis(t.url, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(200 * n, 2000), enableOfflineQueue: true });
  // ioredis reports each failed reconnect: said once per outage, not every attempt
  let down = false;
  c.on('error', (e) => {
    if (!down) onError?.(new QueueError(`Redis at ${t.shown}: ${e.message} (reconnecting)`));
    down = true;
  });
  c.on('ready', () => (down = false));
  return c;
}

/** Fails fast (QueueError naming the URL) when Redis cannot be reached now. */
export async function checkReachable(t: RedisTarget, timeoutMs = 3000): Promise<void> {
  const c = new Redis(t.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  let cause: Error | undefined; // the socket's own error (ECONNREFUSED, …): more telling than the rejection's
  c.on('error', (e) => (cause ??= e));
  try {
    await c.connect();
    await c.ping();
  } catch (e) {
    throw new QueueError(
      `cannot reach Redis at ${t.shown}: ${(cause ?? (e as Error)).message} (start one with \`redis-server --port PORT\`, see the README's "Many machines")`,
    );
  } finally {
    c.disconnect();
  }
}
