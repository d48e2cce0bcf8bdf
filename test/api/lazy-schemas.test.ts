import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { lazySchemaCompilers } from '../../src/api/lazy-schemas.js';

const app = () => Fastify({ schemaController: { compilersFactory: lazySchemaCompilers() } });

describe('schemas compiled on first use', () => {
  it('validates requests and serialises responses as Fastify’s own compilers do', async () => {
    const api = app();
    api.post(
      '/t',
      {
        schema: {
          body: {
            type: 'object',
            required: ['n'],
            properties: { n: { type: 'integer', minimum: 1 } },
            additionalProperties: false,
          },
          response: {
            200: {
              type: 'object',
              properties: { n: { type: 'integer' }, keys: { type: 'array', items: { type: 'string' } } },
            },
          },
        },
      },
      async (req) => {
        const body = req.body as { n: number };
        return {
          n: body.n,
          secret: 'not in the schema',
          ...(body.n === 1 ? { keys: Object.keys(body) } : {}),
        };
      },
    );
    await api.ready();
    const ok = await api.inject({ method: 'POST', url: '/t', payload: { n: 2 } });
    expect(ok.statusCode).toBe(200);
    // The response schema is applied: a field it does not name is not sent.
    expect(ok.json()).toEqual({ n: 2 });
    // Each failure reports its own error, not the previous request's.
    const missing = await api.inject({ method: 'POST', url: '/t', payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toMatch(/must have required property 'n'/);
    const small = await api.inject({ method: 'POST', url: '/t', payload: { n: 0 } });
    expect(small.statusCode).toBe(400);
    expect(small.json().message).toMatch(/must be >= 1/);
    // Fastify's Ajv options hold (removeAdditional): an unknown field is dropped, not refused.
    const extra = await api.inject({ method: 'POST', url: '/t', payload: { n: 1, x: 1 } });
    expect(extra.json()).toEqual({ n: 1, keys: ['n'] });
    expect((await api.inject({ method: 'POST', url: '/t', payload: { n: 3 } })).json()).toEqual({ n: 3 });
    await api.close();
  });

  it('refuses a headers schema when the route is registered', async () => {
    const api = app();
    api.get(
      '/h',
      { schema: { headers: { type: 'object', properties: { 'X-Key': { type: 'string' } } } } },
      async () => 'x',
    );
    await expect(api.ready()).rejects.toThrow(/headers schemas are not supported/);
  });
});
