/** Overview: today's and this week's messages by action, spam share, quarantine size, top senders, model. */
import type { FastifyPluginAsync } from 'fastify';
import type { ActionCounts } from '../../store/stats.js';
import { html } from '../html.js';
import { pageRoute } from '../route.js';
import type { UiDeps } from '../types.js';

const ACTIONS = ['pass', 'tag', 'quarantine', 'reject', 'tempfail'] as const;

function actionTable(title: string, byAction: ActionCounts) {
  const total = Object.values(byAction).reduce((a, b) => a + b, 0);
  const spam = (byAction.tag ?? 0) + (byAction.quarantine ?? 0) + (byAction.reject ?? 0);
  return html`<section class="card"><h2>${title}</h2>
    <p>${total} messages, spam share ${total ? ((100 * spam) / total).toFixed(1) : '0.0'} %</p>
    <table><thead><tr><th>action</th><th>messages</th><th aria-hidden="true"></th></tr></thead><tbody>
    ${ACTIONS.map((a) => {
      const n = byAction[a] ?? 0;
      return html`<tr><td>${a}</td><td>${n}</td><td aria-hidden="true"><meter min="0" max="${total}" value="${n}"></meter></td></tr>`;
    })}</tbody></table></section>`;
}

export const overviewRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage } = deps;
  pageRoute(app, '/ui', 'messages:read', async () => {
    const now = new Date();
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    // Whole UTC days (today and the six before), which the per-day counts answer without reading the log.
    const weekStart = new Date(dayStart.getTime() - 6 * 86_400_000);
    const [today, week, held, model] = await Promise.all([
      storage.stats.byAction(dayStart),
      storage.stats.overview(weekStart),
      storage.quarantine.countHeld(),
      storage.models.getActive(),
    ]);
    const evaluation = model?.evaluation
      ? Object.entries(model.evaluation)
          .filter(([, v]) => typeof v === 'number')
          .map(([k, v]) => html`<dt>${k}</dt><dd>${Number(v).toFixed(4)}</dd>`)
      : [];
    return {
      title: 'Overview',
      body: html`<div class="cards">
        ${actionTable('Today (UTC)', today)}${actionTable('Last 7 days (UTC)', week.byAction)}
        <section class="card"><h2>Quarantine</h2><p><a href="/ui/quarantine">${held} held</a></p>
          <h2>Active model</h2><p>${model?.version ?? 'none'}</p><dl class="kv">${evaluation}</dl></section>
      </div>
      <div class="cards">
        <section class="card"><h2>Top senders (7 days)</h2><table><tbody>${week.topSenders.map(
          (s) =>
            html`<tr><td><a href="/ui/messages?sender=${encodeURIComponent(s.sender)}">${s.sender}</a></td><td>${s.count}</td></tr>`,
        )}</tbody></table></section>
        <section class="card"><h2>Top sender domains (7 days)</h2><table><tbody>${week.topDomains.map(
          (d) => html`<tr><td>${d.domain}</td><td>${d.count}</td></tr>`,
        )}</tbody></table></section>
      </div>`,
    };
  });
};
