/** GET|POST|DELETE /api/v1/lists: entries kept in the database, validated, audited, admin-only to change. */
import { describe, expect, it } from 'vitest';
import { bearer, useTestApi } from '../helpers/api.js';

const ADMIN = 'lists-test-admin-key-0123456789-abcdefghijk';
const world = useTestApi(ADMIN);
const addEntry = (key: string, payload: object) =>
  world.api.app.inject({ method: 'POST', url: '/api/v1/lists', headers: bearer(key), payload });

describe('/api/v1/lists', () => {
  it('adds, lists and removes entries, each audited', async () => {
    const add = await addEntry(ADMIN, { list: 'block', value: '@Spam.Example', scope: 'rcpt.example' });
    expect(add.statusCode).toBe(201);
    const entry = add.json();
    expect(entry).toMatchObject({
      list: 'block',
      kind: 'domain',
      value: '@spam.example',
      scope: 'rcpt.example',
    });
    expect(entry.alignedOnly).toBe(false);
    // The same entry again is the same row.
    const again = await addEntry(ADMIN, { list: 'block', value: '@spam.example', scope: 'rcpt.example' });
    expect(again.json().id).toBe(entry.id);
    // An allow entry for a domain is aligned only unless asked otherwise, as in the config file.
    const domain = await addEntry(ADMIN, { list: 'allow', value: '@partner.example' });
    expect(domain.json()).toMatchObject({ kind: 'domain', alignedOnly: true });
    const unsigned = await addEntry(ADMIN, { list: 'allow', value: '@legacy.example', alignedOnly: false });
    expect(unsigned.json()).toMatchObject({ kind: 'domain', alignedOnly: false });
    const address = await addEntry(ADMIN, { list: 'allow', value: 'boss@partner.example' });
    expect(address.json()).toMatchObject({ kind: 'sender', alignedOnly: false });
    for (const e of [domain, unsigned, address])
      expect(
        (
          await world.api.app.inject({
            method: 'DELETE',
            url: `/api/v1/lists/${e.json().id}`,
            headers: bearer(ADMIN),
          })
        ).statusCode,
      ).toBeLessThan(300);
    const net = await addEntry(ADMIN, { list: 'allow', value: '192.0.2.0/24', alignedOnly: true });
    expect(net.json()).toMatchObject({ kind: 'network', scope: 'global', alignedOnly: true });

    const list = await world.api.app.inject({
      method: 'GET',
      url: '/api/v1/lists',
      headers: bearer(world.analyst),
    });
    expect(list.statusCode).toBe(200);
    expect(
      list
        .json()
        .items.map((e: { value: string }) => e.value)
        .sort(),
    ).toEqual(['192.0.2.0/24', '@spam.example']);

    const del = await world.api.app.inject({
      method: 'DELETE',
      url: `/api/v1/lists/${entry.id}`,
      headers: bearer(ADMIN),
    });
    expect(del.statusCode).toBe(200);
    const gone = await world.api.app.inject({
      method: 'DELETE',
      url: `/api/v1/lists/${entry.id}`,
      headers: bearer(ADMIN),
    });
    expect(gone.statusCode).toBe(404);
    const actions = (await world.api.storage.audit.list(10)).map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['lists.block.add', 'lists.allow.add', 'lists.block.remove']),
    );
  });

  it('refuses a bad value with 400 and the analyst with 403', async () => {
    const bad = await addEntry(ADMIN, { list: 'block', value: 'not an address' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('BAD_LIST_ENTRY');
    const refused = await addEntry(world.analyst, { list: 'allow', value: 'a@b.example' });
    expect(refused.statusCode).toBe(403);
  });
});
