/**
 * The Kubernetes manifests (deploy/kubernetes/) validated offline against the API's schemas
 * (kubernetes-models), and checked for what the service needs: probes on /health and /ready, the Service
 * and PodDisruptionBudget selecting the Deployment's pods, every env name one the service reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.js';

const dir = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const models = { Deployment, Service, ConfigMap, Secret, PodDisruptionBudget } as const;
type Kind = keyof typeof models;
const docs = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, doc: parse(readFileSync(path.join(dir, f), 'utf8')) as { kind: Kind } }));
// `never`: each parsed document is handed to the model class of its kind, which types (and validates) it.
const byKind = (kind: Kind) => docs.find((d) => d.doc.kind === kind)?.doc as never;

/** Every `env` name the config schema declares. */
function envNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (schema && typeof schema === 'object') {
    const s = schema as { env?: unknown; properties?: Record<string, unknown> };
    if (typeof s.env === 'string') out.add(s.env);
    for (const v of Object.values(s.properties ?? {})) envNames(v, out);
  }
  return out;
}

describe('Kubernetes manifests', () => {
  it('has each kind the deployment needs, valid against the API schema', () => {
    expect(docs.map((d) => d.doc.kind).sort()).toEqual(Object.keys(models).sort());
    for (const { file, doc } of docs) {
      const Model = models[doc.kind];
      expect(() => new Model(doc as never).validate(), file).not.toThrow();
    }
  });

  it('the validator catches a wrong manifest', () => {
    const broken = structuredClone(byKind('Deployment')) as { spec: { replicas: unknown } };
    broken.spec.replicas = 'two';
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('probes /health and /ready, and the Service and PDB select the pods', () => {
    const dep = new Deployment(byKind('Deployment'));
    const pod = dep.spec?.template.spec;
    const container = pod?.containers[0];
    expect(container?.livenessProbe?.httpGet?.path).toBe('/health');
    expect(container?.readinessProbe?.httpGet?.path).toBe('/ready');
    const labels = dep.spec?.template.metadata?.labels ?? {};
    const selects = (selector: Record<string, string> | undefined) =>
      Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
    expect(selects(new Service(byKind('Service')).spec?.selector)).toBe(true);
    expect(selects(new PodDisruptionBudget(byKind('PodDisruptionBudget')).spec?.selector?.matchLabels)).toBe(
      true,
    );
    const ports = (container?.ports ?? []).map((p) => p.name);
    for (const p of new Service(byKind('Service')).spec?.ports ?? []) expect(ports).toContain(p.targetPort);
  });

  it('sets only environment variables the service reads', () => {
    const known = envNames(ConfigSchema);
    const names = [
      ...Object.keys(new ConfigMap(byKind('ConfigMap')).data ?? {}),
      ...Object.keys(new Secret(byKind('Secret')).stringData ?? {}),
    ];
    for (const name of names) expect(known, name).toContain(name);
  });
});
