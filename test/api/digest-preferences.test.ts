/**
 * /api/v1/digest/recipients: an admin switches a recipient's digests off and on again (audited, and the
 * digest job then skips them); an analyst reads but cannot change; no key, bad addresses, bad bodies and
 * cross-site body types are refused without a change.
 */
import { describe, expect, it } from 'vitest';
import { isDue } from '../../src/digest/job.js';
import { bearer, useTestApi } from '../helpers/api.js';

const ADMIN = 'digest-pref-admin-key-0123456789-abcdefghij';
const world = useTestApi(ADMIN);
const url = (r: string) => `/api/v1/digest/recipients/${encodeURIComponent(r)}`;

describe('/api/v1/digest/recipients', () => {
  it('switches a recipient off and on again, audited; the job skips them while off', async () => {
    const fresh = await world.api.app.inject({
      method: 'GET',
      url: url('Una@Rcpt.Example'),
      headers: bearer(world.analyst),
    });
    expect(fresh.json()).toEqual({ recipient: 'una@rcpt.example', enabled: true, lastSentAt: null });

    const off = await world.api.app.inject({
      method: 'PUT',
      url: url('Una@Rcpt.Example'),
      headers: bearer(ADMIN),
      payload: { enabled: false },
    });
    expect(off.statusCode).toBe(200);
    expect(off.json()).toMatchObject({ recipient: 'una@rcpt.example', enabled: false });
    const listed = await world.api.app.inject({
      method: 'GET',
      url: '/api/v1/digest/recipients',
      headers: bearer(world.analyst),
    });
    expect(listed.json().optedOut.map((p: { recipient: string }) => p.recipient)).toEqual([
      'una@rcpt.example',
    ]);
    const [audit] = await world.api.storage.audit.list(1);
    expect(audit).toMatchObject({ action: 'digest.unsubscribe', target: 'una@rcpt.example' });
    expect(audit?.actor).toMatch(/^key:/);
    const pref = await world.api.storage.digest.preference('una@rcpt.example');
    const recipient = { recipient: pref.recipient, held: 1, lastSentAt: null, disabled: !pref.enabled };
    expect(isDue(recipient, world.api.config.digest, new Date())).toBe(false);

    const on = await world.api.app.inject({
      method: 'PUT',
      url: url('una@rcpt.example'),
      headers: bearer(ADMIN),
      payload: { enabled: true },
    });
    expect(on.json()).toMatchObject({ enabled: true });
    expect((await world.api.storage.audit.list(1))[0]?.action).toBe('digest.subscribe');
    expect((await world.api.storage.digest.optedOut(10)).length).toBe(0);
  });

  it('refuses no key, an analyst, bad addresses and bodies, and form bodies, changing nothing', async () => {
    const before = (await world.api.storage.audit.list(100)).length;
    const put = (headers: Record<string, string>, payload: unknown, to = 'vic@rcpt.example') =>
      world.api.app.inject({ method: 'PUT', url: url(to), headers, payload: payload as object });
    expect((await put({}, { enabled: false })).statusCode).toBe(401);
    expect((await put(bearer('not-a-key'), { enabled: false })).statusCode).toBe(401);
    expect((await put(bearer(world.analyst), { enabled: false })).statusCode).toBe(403);
    const badAddress = await put(bearer(ADMIN), { enabled: false }, 'not an address');
    expect(badAddress.statusCode).toBe(400);
    expect(badAddress.json().message).toMatch(/^recipient /);
    expect((await put(bearer(ADMIN), { enabled: false }, '@rcpt.example')).statusCode).toBe(400);
    const badBody = await put(bearer(ADMIN), { enabled: 'no' });
    expect(badBody.statusCode).toBe(400);
    expect(badBody.json().message).toMatch(/enabled/);
    const form = await world.api.app.inject({
      method: 'PUT',
      url: url('vic@rcpt.example'),
      headers: { ...bearer(ADMIN), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'enabled=false',
    });
    expect(form.statusCode).toBe(415);
    const badGet = await world.api.app.inject({
      method: 'GET',
      url: url('<script>@x'),
      headers: bearer(world.analyst),
    });
    expect(badGet.statusCode).toBe(400);
    // Named back as JSON data, never as markup (the console's error page escapes it).
    expect(badGet.headers['content-type']).toMatch(/^application\/json/);
    expect((await world.api.app.inject({ method: 'GET', url: '/api/v1/digest/recipients' })).statusCode).toBe(
      401,
    );
    expect((await world.api.storage.digest.preference('vic@rcpt.example')).enabled).toBe(true);
    expect((await world.api.storage.audit.list(100)).length).toBe(before);
  });
});
