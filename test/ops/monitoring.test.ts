/**
 * Operator monitoring, checked with the real tools and a real service: promtool validates the Prometheus
 * config and the alert rules and runs their unit tests (prometheus/alerts.test.yml); every Grafana panel has a
 * query on the provisioned datasource; every metric (and label value) an alert or a panel selects is one a
 * running MailSentra exports on /metrics after handling a message.
 */
import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startTestService, type TestService } from '../helpers/service.js';
import { send } from '../helpers/smtp-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFile(path.join(root, file), 'utf8');
const run = promisify(execFile);

/** Runs promtool from the repository root; rejects with its output on a non-zero exit, and loudly if absent. */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: root, timeout: 60_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { code?: string | number; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        'promtool is not installed (not on PATH). These checks must run, not skip: install the Prometheus ' +
          'tools (Debian/Ubuntu: apt-get install prometheus; .ci/run does this).',
      );
    }
    throw new Error(
      `promtool ${args.join(' ')} exited ${String(e.code)}:\n${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
  }
}

// ---- the files under test ------------------------------------------------------------------------------------

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTests {
  tests: { name?: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}
interface Datasource {
  type?: string;
  uid?: string;
}
interface Target {
  refId?: string;
  expr?: string;
  datasource?: Datasource;
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: Datasource;
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels: Panel[];
  templating?: { list?: { name: string; datasource?: Datasource; query?: string | { query?: string } }[] };
}

const alertRules = parseYaml(await read('prometheus/alerts.yml')) as RuleFile;
const alerts = alertRules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
const ruleTests = parseYaml(await read('prometheus/alerts.test.yml')) as RuleTests;
const dashboard = JSON.parse(await read('grafana/dashboards/mailsentra.json')) as Dashboard;
const panels = dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
const templateQueries = (dashboard.templating?.list ?? []).map((v) =>
  typeof v.query === 'string' ? v.query : (v.query?.query ?? ''),
);
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).filter(Boolean);

/** Grafana's variables replaced by values Prometheus accepts, so the queries can be checked as PromQL. */
const asPromQL = (expr: string) =>
  expr
    .replace(/\$__(rate_interval|interval|range)\b/g, '5m')
    .replace(/\$\{?instance\}?/g, '.*')
    .replace(/\$\{?__all\}?/g, '.*');

// ---- promtool ------------------------------------------------------------------------------------------------

describe('Prometheus config and alert rules (promtool)', () => {
  it('prometheus.yml is valid and loads alerts.yml', async () => {
    const out = await promtool('check', 'config', 'prometheus/prometheus.yml');
    expect(out).toContain('SUCCESS');
    const config = parseYaml(await read('prometheus/prometheus.yml')) as {
      rule_files?: string[];
      scrape_configs?: { job_name: string; metrics_path?: string; scrape_interval?: string }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    expect(config.scrape_configs?.find((j) => j.job_name === 'mailsentra')).toMatchObject({
      metrics_path: '/metrics',
      scrape_interval: '15s',
    });
  });

  it('alerts.yml is valid', async () => {
    expect(await promtool('check', 'rules', 'prometheus/alerts.yml')).toContain('SUCCESS');
  });

  it('alerts.yml passes its unit tests (alerts.test.yml)', async () => {
    expect(await promtool('test', 'rules', 'prometheus/alerts.test.yml')).toContain('SUCCESS');
  });

  it('has the alerts an operator needs, each with a duration, a severity, a summary and a description', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'MailSentraDown',
        'NextHopFailing',
        'HighTempfailRate',
        'QuarantineGrowing',
        'SpamRatioJump',
        'ScanLatencyHigh',
        'NoModelLoaded',
        'LogBufferDropping',
        'LogRowsRefused',
        'DataDirFilling',
        'DataDirFull',
      ]),
    );
    for (const a of alerts) {
      expect(a.for, `${a.alert} for:`).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning'], `${a.alert} severity`).toContain(a.labels?.severity);
      expect(a.annotations?.summary, `${a.alert} summary`).toBeTruthy();
      expect(a.annotations?.description, `${a.alert} description`).toBeTruthy();
    }
  });

  it('unit-tests every alert firing, and some case where it must stay quiet', () => {
    const cases = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      const own = cases.filter((c) => c.alertname === a.alert);
      expect(
        own.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} has a test where it fires`,
      ).toBe(true);
    }
    expect(cases.filter((c) => (c.exp_alerts ?? []).length === 0).length).toBeGreaterThan(0);
  });
});

// ---- Grafana -------------------------------------------------------------------------------------------------

describe('Grafana provisioning and dashboard', () => {
  it('provisions the Prometheus datasource and loads dashboards from the mounted folder', async () => {
    const ds = parseYaml(await read('grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: { type: string; uid: string; url: string }[];
    };
    expect(ds.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', uid: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const providers = parseYaml(await read('grafana/provisioning/dashboards/mailsentra.yml')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(providers.providers).toEqual([
      expect.objectContaining({
        type: 'file',
        options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }),
      }),
    ]);
  });

  it('is a dashboard whose every panel queries the provisioned Prometheus', () => {
    expect(dashboard.uid).toBe('mailsentra');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(panels.length).toBeGreaterThanOrEqual(12);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
    for (const p of panels) {
      const name = `panel ${p.id} "${p.title}"`;
      expect(['timeseries', 'stat', 'gauge', 'table', 'bargauge', 'heatmap'], name).toContain(p.type);
      expect(p.gridPos, `${name} gridPos`).toBeDefined();
      const withExpr = (p.targets ?? []).filter((t) => (t.expr ?? '').trim() !== '');
      expect(withExpr.length, `${name} has a query`).toBeGreaterThan(0);
      for (const t of withExpr) {
        const ds = t.datasource ?? p.datasource;
        expect(ds, `${name} target ${t.refId} datasource`).toMatchObject({
          type: 'prometheus',
          uid: 'prometheus',
        });
      }
    }
  });

  it('covers what operators look at', () => {
    const all = dashboardExprs.join('\n');
    for (const needle of [
      'mailsentra_messages_total',
      'histogram_quantile(0.99, sum by (le) (rate(mailsentra_message_duration_seconds_bucket',
      'histogram_quantile(0.99, sum by (le) (rate(mailsentra_scan_duration_seconds_bucket',
      'mailsentra_relay_total',
      'mailsentra_cache_lookups_total',
      'mailsentra_quarantine_messages',
      'mailsentra_feedback_total',
      'mailsentra_model_info',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'mailsentra_smtp_sessions',
      'mailsentra_log_buffer_rows',
      'mailsentra_log_rows_dropped_total',
    ]) {
      expect(all, needle).toContain(needle);
    }
  });

  it('queries are valid PromQL (checked by promtool as recording rules)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mailsentra-dashboard-'));
    try {
      const rules = [...dashboardExprs, ...templateQueries.filter((q) => !q.startsWith('label_values('))].map(
        (expr, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(expr) }),
      );
      const file = path.join(dir, 'dashboard-queries.yml');
      await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      expect(await promtool('check', 'rules', file)).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---- against a running service -------------------------------------------------------------------------------

/** One exposition sample: metric name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** Metric names in PromQL (digits included: nodejs_eventloop_lag_p99_seconds). `up` comes from Prometheus. */
const METRIC = /\b(mailsentra_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+|up)\b/g;
const metricNames = (expr: string) =>
  [...expr.matchAll(METRIC)].map((m) => m[1] as string).filter((n) => n !== 'up');

/** `metric{label="v"}` and `metric{label=~"a|b"}` → the label values the query expects to exist. */
function expectedLabelValues(expr: string): { metric: string; label: string; value: string }[] {
  const out: { metric: string; label: string; value: string }[] = [];
  for (const sel of expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*\{([^}]*)\}/g)) {
    const metric = sel[1] as string;
    for (const m of (sel[2] as string).matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)) {
      const [, label, op, value] = m as unknown as [string, string, string, string];
      // job and instance are Prometheus' target labels; variables and real regexes say nothing checkable.
      if (label === 'job' || label === 'instance' || value.includes('$')) continue;
      if (op === '=') out.push({ metric, label, value });
      else if (op === '=~' && /^[\w|]+$/.test(value)) {
        for (const v of value.split('|')) out.push({ metric, label, value: v });
      }
    }
  }
  return out;
}

describe('every series used by alerts and dashboard is exported by a running MailSentra', () => {
  let service: TestService;
  let exposition: ReturnType<typeof parseExposition>;

  beforeAll(async () => {
    service = await startTestService();
    // One message through the whole path, so histograms and labelled series have samples.
    const sent = await send(
      service.smtpPort,
      { from: 'alice@example.com', to: ['bob@example.org'] },
      'From: alice@example.com\r\nTo: bob@example.org\r\nSubject: Monitoring check\r\n' +
        "Message-ID: <monitoring-check@example.com>\r\n\r\nMinutes of Tuesday's meeting attached.\r\n",
    );
    expect(sent, sent.response).toMatchObject({ ok: true, code: 250 });
    expect(service.sink.messages).toHaveLength(1);
    const res = await fetch(`http://127.0.0.1:${service.apiPort}/metrics`);
    expect(res.status).toBe(200);
    exposition = parseExposition(await res.text());
  });

  afterAll(async () => {
    await service?.stop();
  });

  /** Names that have samples, with histograms' _bucket/_sum/_count tied to their `# TYPE` base name. */
  function exported(name: string): boolean {
    const baseType = exposition.types.get(name.replace(/_(bucket|sum|count)$/, ''));
    const declared = exposition.types.has(name) || baseType === 'histogram' || baseType === 'summary';
    return declared && exposition.samples.some((s) => s.name === name);
  }

  it('exports every metric of docs/architecture.md with samples', () => {
    for (const name of [
      'mailsentra_messages_total',
      'mailsentra_message_duration_seconds_bucket',
      'mailsentra_scan_duration_seconds_bucket',
      'mailsentra_spam_score_bucket',
      'mailsentra_smtp_sessions',
      'mailsentra_relay_total',
      'mailsentra_cache_lookups_total',
      'mailsentra_quarantine_messages',
      'mailsentra_feedback_total',
      'mailsentra_model_info',
    ]) {
      expect(exported(name), name).toBe(true);
    }
  });

  it("reports the data directory's filesystem as the kernel does", () => {
    const fs = statfsSync(service.config.dataDir);
    const value = (name: string) => exposition.samples.find((s) => s.name === name)?.value;
    expect(value('mailsentra_data_dir_size_bytes')).toBe(fs.blocks * fs.bsize);
    // Read at the scrape, a moment before statfs here: other tests write meanwhile.
    const free = value('mailsentra_data_dir_free_bytes') ?? -1;
    expect(Math.abs(free - fs.bavail * fs.bsize)).toBeLessThan(0.05 * fs.blocks * fs.bsize);
  });

  it('alert expressions use only exported metrics and label values', () => {
    checkExprs(alerts.map((a) => ({ where: `alert ${a.alert}`, expr: a.expr })));
  });

  it('dashboard queries use only exported metrics and label values', () => {
    checkExprs([
      ...panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr ?? '' })),
      ),
      ...templateQueries.map((q) => ({ where: 'template variable', expr: q })),
    ]);
  });

  function checkExprs(exprs: { where: string; expr: string }[]): void {
    const missing: string[] = [];
    let used = 0;
    for (const { where, expr } of exprs) {
      for (const name of metricNames(expr)) {
        used++;
        if (!exported(name)) missing.push(`${where}: ${name} is not exported`);
      }
      for (const { metric, label, value } of expectedLabelValues(expr)) {
        if (metric === 'up') continue;
        const ok = exposition.samples.some((s) => s.name === metric && s.labels[label] === value);
        if (!ok) missing.push(`${where}: no ${metric} sample with ${label}="${value}"`);
      }
    }
    expect(used).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  }
});
