/** A running service's API called over HTTP with a key, as a client would: JSON bodies, or raw mail bytes. */
import type { TestService } from './service.js';

/** `body`: a Buffer is sent as message/rfc822, anything else as JSON. Throws on a status other than 2xx. */
export async function callApi<T>(
  service: Pick<TestService, 'apiPort'>,
  key: string,
  method: string,
  url: string,
  body?: unknown,
): Promise<T> {
  const raw = Buffer.isBuffer(body);
  const res = await fetch(`http://127.0.0.1:${service.apiPort}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': raw ? 'message/rfc822' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: raw ? body : JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
