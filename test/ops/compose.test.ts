/**
 * Deployment wiring, checked by reading (no Docker engine needed): docker-compose.yml, the Dockerfile and
 * prometheus/prometheus.yml must agree with each other and with the configuration schema.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { envBindings, loadConfig, parseHostPort } from '../../src/config/load.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

// ---- docker-compose.yml ------------------------------------------------------------------------------------

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Service {
  image?: string;
  build?: unknown;
  command?: unknown;
  environment?: Dict | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | number | Dict)[];
  expose?: (string | number)[];
  volumes?: (string | Dict)[];
  configs?: (string | Dict)[];
  healthcheck?: { test?: string | string[]; disable?: boolean };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  configs?: Record<string, { content?: string; file?: string }>;
}

/**
 * Compose interpolation: `${X:-d}` / `${X-d}` → X or d, `${X:?msg}` / `${X?msg}` → X or a failure naming X,
 * `${X}` → X or '', `$$` → `$`.
 */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (
      m,
      name: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (m === '$$') return '$';
      const key = (name ?? bare) as string;
      const value = vars[key];
      if (value !== undefined && value !== '') return value;
      if (op === '?') throw new Error(`required variable ${key} is missing a value: ${arg}`);
      return op === '-' ? (arg ?? '') : '';
    },
  );
}

/** What an operator must provide (the file refuses to start without them). */
const REQUIRED_ENV = {
  ADMIN_API_KEY: 'k'.repeat(40),
  GRAFANA_ADMIN_PASSWORD: 'grafana-test-password',
};
const compose = parseYaml(interpolate(read('docker-compose.yml'), REQUIRED_ENV)) as Compose;
const services = compose.services;

function service(name: string): Service {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service '${name}'`);
  return s;
}

function env(s: Service): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(
      e.map((kv) => {
        const i = kv.indexOf('=');
        return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function dependsOn(s: Service): { name: string; condition: string }[] {
  const d = s.depends_on ?? [];
  if (Array.isArray(d)) return d.map((name) => ({ name, condition: 'service_started' }));
  return Object.entries(d).map(([name, v]) => ({ name, condition: v?.condition ?? 'service_started' }));
}

/** `[ip:][host:]container[/proto]` or the long form → container and published (host) ports. */
function ports(s: Service): { container: number; published: number | null }[] {
  return (s.ports ?? []).map((p) => {
    if (isDict(p)) {
      return {
        container: Number(p.target),
        published: p.published === undefined ? null : Number(p.published),
      };
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const container = Number(parts.at(-1));
    return { container, published: parts.length > 1 ? Number(parts.at(-2)) : null };
  });
}

interface Mount {
  type: 'volume' | 'bind';
  source: string | undefined;
  target: string;
  readOnly: boolean;
}
function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    if (isDict(v)) {
      return {
        type: v.type === 'bind' ? 'bind' : 'volume',
        source: v.source === undefined ? undefined : String(v.source),
        target: String(v.target),
        readOnly: v.read_only === true,
      };
    }
    const [a, b, mode] = String(v).split(':') as [string, string | undefined, string | undefined];
    if (b === undefined) return { type: 'volume', source: undefined, target: a, readOnly: false };
    const bind = /^[./~]/.test(a);
    return { type: bind ? 'bind' : 'volume', source: a, target: b, readOnly: /\bro\b/.test(mode ?? '') };
  });
}

function hasHealthcheck(s: Service): boolean {
  const h = s.healthcheck;
  if (!h || h.disable) return false;
  const test = Array.isArray(h.test) ? h.test : [h.test];
  return test.length > 0 && test[0] !== 'NONE' && test[0] !== undefined;
}

const schemaEnvNames = envBindings().map((b) => b.env);
const ms = service('mailsentra');
const msEnv = env(ms);
const smtpListen = parseHostPort(msEnv.SMTP_LISTEN ?? '');
const apiListen = parseHostPort(msEnv.API_LISTEN ?? '');

describe('docker-compose.yml', () => {
  it('ships no default secrets: start fails without ADMIN_API_KEY and GRAFANA_ADMIN_PASSWORD', () => {
    const text = read('docker-compose.yml');
    expect(() => interpolate(text, {})).toThrow(/ADMIN_API_KEY/);
    expect(() => interpolate(text, { ADMIN_API_KEY: REQUIRED_ENV.ADMIN_API_KEY })).toThrow(
      /GRAFANA_ADMIN_PASSWORD/,
    );
    expect(text).not.toMatch(/change-me/i);
  });

  it('publishes every port on the host loopback only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) {
        const host = isDict(p) ? String(p.host_ip ?? '') : String(p).split(':').slice(0, -2).join(':');
        expect(host, `${name} publishes ${JSON.stringify(p)}`).toBe('127.0.0.1');
      }
    }
  });

  it('admits SMTP clients from loopback and its own network only', () => {
    const subnets = (
      (compose as { networks?: Record<string, { ipam?: { config?: { subnet?: string }[] } }> }).networks
        ?.default?.ipam?.config ?? []
    ).map((c) => c.subnet);
    expect(subnets.length).toBeGreaterThan(0);
    const allowed = (msEnv.SMTP_ALLOW_NETWORKS ?? '').split(',');
    const loopback = ['127.0.0.0/8', '::1/128'];
    expect(allowed.filter((n) => !loopback.includes(n)).sort()).toEqual([...subnets].sort());
  });

  it('runs Grafana with a required admin password and no anonymous access', () => {
    const g = env(service('grafana'));
    expect(g.GF_SECURITY_ADMIN_PASSWORD).toBe(REQUIRED_ENV.GRAFANA_ADMIN_PASSWORD);
    expect(g.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
  });

  it('has the expected services', () => {
    for (const name of ['mailsentra', 'postgres', 'redis', 'mailpit', 'prometheus', 'grafana']) {
      expect(services, name).toHaveProperty(name);
    }
  });

  it('depends only on services that exist; service_healthy only on services with a healthcheck', () => {
    const dockerfileHasHealthcheck = stages.at(-1)?.instructions.some((i) => i.op === 'HEALTHCHECK') ?? false;
    for (const [name, s] of Object.entries(services)) {
      for (const dep of dependsOn(s)) {
        expect(Object.keys(services), `${name} depends on ${dep.name}`).toContain(dep.name);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(
          dep.condition,
        );
        if (dep.condition === 'service_healthy') {
          const target = service(dep.name);
          const viaImage = target.build !== undefined && dockerfileHasHealthcheck;
          expect(hasHealthcheck(target) || viaImage, `${name} waits for ${dep.name} to be healthy`).toBe(
            true,
          );
        }
      }
    }
    expect(dependsOn(ms)).toEqual(
      expect.arrayContaining([
        { name: 'postgres', condition: 'service_healthy' },
        { name: 'redis', condition: 'service_healthy' },
      ]),
    );
  });

  it('declares every named volume it uses, and uses every one it declares', () => {
    const declared = Object.keys(compose.volumes ?? {});
    const used = new Set<string>();
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) {
        if (m.type !== 'volume' || m.source === undefined) continue;
        expect(declared, `${name} mounts volume ${m.source}`).toContain(m.source);
        used.add(m.source);
      }
    }
    expect([...used].sort()).toEqual([...declared].sort());
  });

  it('declares every config it mounts', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const c of s.configs ?? []) {
        const source = isDict(c) ? String(c.source) : c;
        expect(Object.keys(compose.configs ?? {}), `${name} mounts config ${source}`).toContain(source);
      }
    }
  });

  it('sets only environment variables the configuration schema knows, with values it accepts', () => {
    expect(schemaEnvNames).toEqual(expect.arrayContaining(['SMTP_LISTEN', 'API_LISTEN', 'DATABASE_URL']));
    for (const name of Object.keys(msEnv)) expect(schemaEnvNames, `mailsentra env ${name}`).toContain(name);

    // The effective configuration the container starts with: the inline config file (if the command passes
    // one) + the environment, validated by the real loader.
    const command = Array.isArray(ms.command) ? ms.command.map(String) : [];
    const i = command.indexOf('--config');
    let file: string | null = null;
    const dir = mkdtempSync(path.join(tmpdir(), 'mailsentra-compose-'));
    try {
      if (i >= 0) {
        const target = command[i + 1];
        const mounted = (ms.configs ?? []).find((c) => isDict(c) && c.target === target);
        expect(mounted, `config file ${target} is mounted`).toBeDefined();
        const content = compose.configs?.[String((mounted as Dict).source)]?.content;
        expect(typeof content).toBe('string');
        file = path.join(dir, 'mailsentra.yaml');
        writeFileSync(file, content as string);
      }
      const config = loadConfig({ file, env: msEnv });
      expect(command.at(-1) ?? 'serve').toBe('serve');
      // Reachable from outside the container, and from the Docker networks SMTP clients come from.
      expect(['0.0.0.0', '::']).toContain(smtpListen.host);
      expect(['0.0.0.0', '::']).toContain(apiListen.host);
      expect(config.api.adminApiKey).toBe(REQUIRED_ENV.ADMIN_API_KEY);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('points DATABASE_URL at the postgres service with its user, password and database', () => {
    const url = new URL(msEnv.DATABASE_URL ?? '');
    const pg = service(url.hostname);
    expect(pg.image).toMatch(/^postgres(:|$)/);
    expect(Number(url.port || 5432)).toBe(5432);
    const pgEnv = env(pg);
    expect(decodeURIComponent(url.username)).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pgEnv.POSTGRES_PASSWORD);
    expect(url.pathname.slice(1)).toBe(pgEnv.POSTGRES_DB ?? pgEnv.POSTGRES_USER);
    expect(hasHealthcheck(pg)).toBe(true);
  });

  it('points REDIS_URL at the redis service', () => {
    const url = new URL(msEnv.REDIS_URL ?? '');
    expect(url.protocol).toBe('redis:');
    expect(service(url.hostname).image).toMatch(/^redis(:|$)/);
    expect(Number(url.port || 6379)).toBe(6379);
  });

  it("relays to mailpit's SMTP port", () => {
    const relay = parseHostPort(msEnv.RELAY_TO ?? '');
    const mailpit = service(relay.host);
    expect(mailpit.image).toMatch(/^axllent\/mailpit(:|$)/);
    const bind = env(mailpit).MP_SMTP_BIND_ADDR;
    const smtpPort = bind ? parseHostPort(bind).port : 1025;
    expect(relay.port).toBe(smtpPort);
    expect((mailpit.expose ?? []).map(Number)).toContain(smtpPort);
  });

  it('publishes the SMTP and API ports it listens on, and keeps DATA_DIR on a volume', () => {
    const published = ports(ms);
    for (const port of [smtpListen.port, apiListen.port]) {
      expect(published.map((p) => p.container)).toContain(port);
      expect(published.find((p) => p.container === port)?.published).not.toBeNull();
    }
    const dataDir = msEnv.DATA_DIR ?? dockerEnv.DATA_DIR;
    const dataMount = mounts(ms).find((m) => m.target === dataDir);
    expect(dataMount?.type).toBe('volume');
    expect(dataMount?.readOnly).toBe(false);
  });

  it('health-checks mailsentra on its API port', () => {
    expect(hasHealthcheck(ms)).toBe(true);
    const test = [ms.healthcheck?.test ?? []].flat().join(' ');
    expect(test).toContain(`127.0.0.1:${apiListen.port}/`);
    expect(test).toMatch(/\/(health|ready)\b/);
  });

  it('mounts ./prometheus, whose prometheus.yml scrapes mailsentra on the API port', () => {
    const prom = service('prometheus');
    const mount = mounts(prom).find((m) => m.target === '/etc/prometheus');
    expect(mount).toMatchObject({ type: 'bind', readOnly: true });
    expect(path.normalize(mount?.source ?? '')).toBe('prometheus');

    interface ScrapeConfig {
      job_name?: string;
      metrics_path?: string;
      static_configs?: { targets?: string[] }[];
    }
    const promConfig = parseYaml(read('prometheus/prometheus.yml')) as { scrape_configs?: ScrapeConfig[] };
    const want = `mailsentra:${apiListen.port}`;
    const jobs = (promConfig.scrape_configs ?? []).filter((job) =>
      (job.static_configs ?? []).some((sc) => (sc.targets ?? []).includes(want)),
    );
    expect(jobs.length, `a scrape job targets ${want}`).toBeGreaterThan(0);
    for (const job of jobs) expect(job.metrics_path ?? '/metrics').toBe('/metrics');
  });

  it('mounts the grafana provisioning and dashboards folders read-only', () => {
    const targets = Object.fromEntries(mounts(service('grafana')).map((m) => [m.target, m]));
    expect(targets['/etc/grafana/provisioning']).toMatchObject({ type: 'bind', readOnly: true });
    expect(targets['/var/lib/grafana/dashboards']).toMatchObject({ type: 'bind', readOnly: true });
  });
});

// ---- Dockerfile --------------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions (continuations joined, comments dropped) grouped by FROM; ARGs before the first FROM apply. */
function parseDockerfile(text: string): { globalArgs: Record<string, string>; stages: Stage[] } {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const globalArgs: Record<string, string> = {};
  const out: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      const from = (f?.[1] ?? '').replace(/\$\{?(\w+)\}?/g, (_, n: string) => globalArgs[n] ?? '');
      out.push({ from, name: f?.[2]?.toLowerCase(), instructions: [] });
    } else if (out.length === 0) {
      if (op === 'ARG') {
        const [k, v] = args.split('=') as [string, string | undefined];
        globalArgs[k] = v ?? '';
      }
    } else out.at(-1)?.instructions.push({ op, args });
  }
  return { globalArgs, stages: out };
}

/** `ENV A=1 B=2` (and the legacy `ENV A 1`) of one stage. */
function stageEnv(stage: Stage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.op === 'ENV')) {
    if (!i.args.includes('=')) {
      const [k, ...rest] = i.args.split(/\s+/);
      out[k as string] = rest.join(' ');
      continue;
    }
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|'[^']*'|\S+)/g)) {
      out[m[1] as string] = (m[2] as string).replace(/^["']|["']$/g, '');
    }
  }
  return out;
}

const installsAll = (cmd: string) =>
  /\bnpm\s+(ci|install|i)\b/.test(cmd) && !/--omit[= ]dev|--production\b|--only[= ]prod/.test(cmd);
const prunesDev = (cmd: string) => /\bnpm\s+prune\b[^&;|]*(--omit[= ]dev|--production\b)/.test(cmd);

/** Whether a stage's node_modules still holds devDependencies at its end (inherited through FROM <stage>). */
function hasDevDependencies(stage: Stage, all: Stage[]): boolean {
  const parent = all.find((s) => s.name !== undefined && s.name === stage.from.toLowerCase());
  let dev = parent ? hasDevDependencies(parent, all) : false;
  for (const i of stage.instructions) {
    if (i.op !== 'RUN') continue;
    // A command line may install and then prune; the order inside it decides.
    for (const part of i.args.split(/&&|;/)) {
      if (installsAll(part)) dev = true;
      if (prunesDev(part)) dev = false;
    }
  }
  return dev;
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const stages = dockerfile.stages;
const finalStage = stages.at(-1) as Stage;
const dockerEnv = stageEnv(finalStage);
const finalOps = (op: string) => finalStage.instructions.filter((i) => i.op === op);

describe('Dockerfile', () => {
  it('builds in at least two stages on node 20', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      const named = stages.some((o) => o.name === s.from.toLowerCase());
      if (!named) expect(s.from).toMatch(/^node:20\b/);
    }
  });

  it('runs the service as a non-root user', () => {
    const user = finalOps('USER').at(-1)?.args.split(':')[0];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(finalOps('CMD').at(-1)?.args).toBe('["node", "dist/bundle/cli.js", "serve"]');
  });

  it('has a HEALTHCHECK against the API and EXPOSEs the SMTP and API ports', () => {
    const hc = finalOps('HEALTHCHECK').at(-1)?.args ?? '';
    expect(hc).toMatch(/\bCMD\b/);
    expect(hc).toMatch(/\/health\b/);
    expect(hc).not.toMatch(/\bcurl\b|\bwget\b/);
    const exposed = finalOps('EXPOSE').flatMap((i) =>
      i.args.split(/\s+/).map((p) => Number(p.split('/')[0])),
    );
    const smtpPort = parseHostPort(dockerEnv.SMTP_LISTEN ?? '').port;
    const apiPort = parseHostPort(dockerEnv.API_LISTEN ?? '').port;
    expect(exposed).toEqual(expect.arrayContaining([smtpPort, apiPort, smtpListen.port, apiListen.port]));
  });

  it('sets only known configuration variables (plus NODE_ENV), with values the schema accepts', () => {
    for (const name of Object.keys(dockerEnv)) {
      if (name !== 'NODE_ENV') expect(schemaEnvNames, `Dockerfile ENV ${name}`).toContain(name);
    }
    const { NODE_ENV: _, ...configEnv } = dockerEnv;
    expect(() => loadConfig({ file: null, env: configEnv })).not.toThrow();
  });

  it('keeps DATA_DIR on a volume', () => {
    const dataDir = dockerEnv.DATA_DIR;
    expect(dataDir).toMatch(/^\//);
    const volumes = finalOps('VOLUME').flatMap((i) =>
      i.args.startsWith('[') ? (JSON.parse(i.args) as string[]) : i.args.split(/\s+/),
    );
    expect(volumes).toContain(dataDir);
    expect(msEnv.DATA_DIR ?? dataDir).toBe(dataDir);
  });

  it('ships production dependencies only, with the compiled code and the default model', () => {
    expect(hasDevDependencies(finalStage, stages), 'the final stage installs devDependencies').toBe(false);
    const copies = finalOps('COPY').map((i) => {
      const from = /--from=(\S+)/.exec(i.args)?.[1]?.toLowerCase();
      const paths = i.args
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'))
        .slice(0, -1);
      return { from, paths };
    });
    for (const c of copies) {
      const copiesModules = c.paths.some((p) => /node_modules\/?$/.test(p) || /^(\.|\/app)\/?$/.test(p));
      if (!copiesModules || c.from === undefined) continue;
      const source = stages.find((s) => s.name === c.from);
      expect(source, `COPY --from=${c.from}`).toBeDefined();
      expect(hasDevDependencies(source as Stage, stages), `node_modules copied from ${c.from}`).toBe(false);
    }
    const copied = copies.flatMap((c) => c.paths.map((p) => path.basename(p.replace(/\/$/, ''))));
    expect(copied).toEqual(expect.arrayContaining(['node_modules', 'dist', 'models', 'package.json']));
  });
});

// ---- what the compiled code imports at run time -------------------------------------------------------------

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Packages imported for their value (type-only imports vanish in dist/). */
function runtimeImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm)) {
    const clause = (m[1] as string).trim();
    if (/^type\b/.test(clause)) continue;
    const braced = /^\{([\s\S]*)\}$/.exec(clause);
    if (braced?.[1]?.split(',').every((s) => s.trim() === '' || /^type\b/.test(s.trim()))) continue;
    out.push(m[2] as string);
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push(m[1] as string);
  for (const m of text.matchAll(/\b(?:import|require(?:\.resolve)?)\(\s*['"]([^'"]+)['"]/g)) {
    out.push(m[1] as string);
  }
  return out;
}

describe('runtime dependencies', () => {
  it('src/ imports only Node built-ins and production dependencies', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string> };
    const prod = new Set(Object.keys(pkg.dependencies ?? {}));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    for (const file of sourceFiles(path.join(root, 'src'))) {
      for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('#')) continue;
        const parts = spec.split('/');
        const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
        if (!builtins.has(name) && !prod.has(name)) problems.push(`${path.relative(root, file)}: ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
