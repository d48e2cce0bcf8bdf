/**
 * Model versions with their evaluations; for admins, train, activate and roll back (activate an older
 * version). The buttons run the API's own model actions (src/api/routes/models.ts `modelActions`), so the
 * console and `POST /api/v1/models/...` cannot drift: the same site check refuses a version worse on the
 * site's held-out mail (409 here too, with an "activate anyway" form that forces it).
 */
import type { FastifyPluginAsync } from 'fastify';
import { mayDo } from '../../api/roles.js';
import type { TrainingJob } from '../../api/routes/models.js';
import type { Evaluation } from '../../classifier/types.js';
import { HttpError, TrainingRunningError } from '../../errors.js';
import type { UiSession } from '../../store/sessions.js';
import type { ModelRecord } from '../../store/types.js';
import { type Html, html } from '../html.js';
import { csrfField, field, notice, when } from '../layout.js';
import { doneAt, doneNotice, formPost, pageRoute } from '../route.js';
import type { UiDeps } from '../types.js';

const FIGURES = ['accuracy', 'precision', 'recall', 'falsePositiveRate', 'rocAuc', 'recallAtFpr001'] as const;

function evaluationCell(e: Partial<Evaluation> | null): Html | string {
  if (!e) return '—';
  const site = e.site;
  return html`${FIGURES.filter((k) => typeof e[k] === 'number').map(
    (k) => html`${k} ${(e[k] as number).toFixed(4)}<br>`,
  )}${typeof e.messages === 'number' ? html`on ${e.messages} test messages<br>` : ''}${
    site
      ? html`site (${site.ham} ham, ${site.spam} spam held out): ${site.candidate.falsePositives} FP /
        ${site.candidate.falseNegatives} FN vs ${site.baseline.version} ${site.baseline.falsePositives} FP /
        ${site.baseline.falseNegatives} FN`
      : ''
  }`;
}

function jobRow(j: TrainingJob): Html {
  return html`<tr><td>${j.startedAt.replace('T', ' ').slice(0, 19)}</td><td>${j.state}</td>
    <td>${j.version ?? ''}</td><td>${j.error ?? ''}</td></tr>`;
}

function activateForm(session: UiSession, m: ModelRecord, active: ModelRecord | undefined, force = false) {
  const older = active !== undefined && m.createdAt < active.createdAt;
  const label = force ? 'Activate anyway' : older ? 'Roll back to this version' : 'Activate';
  return html`<form method="post" action="/ui/models/${encodeURIComponent(m.version)}/activate">${csrfField(session)}
    ${force ? html`<input type="hidden" name="force" value="1">` : ''}
    <button type="submit" class="${force ? 'danger' : 'primary'}"${force ? '' : html` data-confirm="${label}: ${m.version}?"`}>${label}</button></form>`;
}

export const modelRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage, models: actions } = deps;

  pageRoute(app, '/ui/models', 'models:read', async ({ session, query }) => {
    const models = await storage.models.list();
    const active = models.find((m) => m.active);
    const admin = mayDo(session.key.role, 'models:activate');
    const done = doneNotice(session, query);
    const jobs = actions.jobs().slice(0, 5);
    return {
      title: 'Models',
      body: html`${done ? notice(done) : ''}
      ${
        admin
          ? html`<form method="post" action="/ui/models/train" class="actions">${csrfField(session)}
            <button type="submit" class="primary">Train a new version</button></form>
            <p>A trained version is stored, not activated: read its evaluation, then activate it.</p>`
          : html`<p>Only an admin can train, activate or roll back a version.</p>`
      }
      ${
        jobs.length
          ? html`<h2>Training jobs</h2><table><thead><tr><th>started</th><th>state</th><th>version</th><th>error</th></tr></thead>
            <tbody>${jobs.map(jobRow)}</tbody></table>`
          : ''
      }
      <table class="wide"><thead><tr><th>version</th><th>created</th><th>training set</th><th>evaluation</th><th>active</th>${admin ? html`<th></th>` : ''}</tr></thead>
      <tbody>${models.map(
        (m) => html`<tr><td>${m.version}</td><td>${when(m.createdAt)}</td><td>${m.trainingSet}</td>
          <td>${evaluationCell(m.evaluation)}</td><td>${m.active ? 'active' : ''}</td>
          ${admin ? html`<td>${m.active ? '' : activateForm(session, m, active)}</td>` : ''}</tr>`,
      )}</tbody></table>`,
    };
  });

  formPost(app, '/ui/models/train', 'models:activate', async ({ actor }) => {
    try {
      const job = await actions.train(actor);
      return doneAt('/ui/models', `Training started (job ${job.id}); reload to see its outcome.`);
    } catch (err) {
      if (!(err instanceof TrainingRunningError)) throw err;
      return doneAt(
        '/ui/models',
        `A training job is running already (job ${err.jobId}); reload to see its outcome.`,
      );
    }
  });

  formPost(
    app,
    '/ui/models/:version/activate',
    'models:activate',
    async ({ session, params, body, actor }) => {
      const { version } = params;
      const force = field(body.force) === '1';
      try {
        await actions.activate(version, { force, actor });
      } catch (err) {
        if (!(err instanceof HttpError) || err.statusCode !== 409 || force) throw err;
        // The site check refused it: say why, and offer to force it as the API's ?force=true does.
        const record = (await storage.models.list()).find((m) => m.version === version);
        return {
          status: 409,
          title: 'Not activated',
          body: html`<p class="notice error" role="alert"><strong>${err.code}</strong>: ${err.message}</p>
          ${record ? activateForm(session, record, undefined, true) : ''}
          <p><a href="/ui/models">Back to the models</a></p>`,
        };
      }
      return doneAt('/ui/models', `${version} is active.`);
    },
  );
};
