/**
 * Model versions: list, activate (also rollback: activate an older version), and training as a background
 * job (202 + jobId; one at a time across instances through the storage training lock). A trained version is
 * stored but not activated: an admin activates it after reading its evaluation. The console's model page
 * calls the same `modelActions` as these routes.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type as T } from '@sinclair/typebox';
import { deserializeModel } from '../../classifier/model.js';
import { trainInThread } from '../../classifier/train-thread.js';
import type { RawLabelled } from '../../classifier/train-version.js';
import type { ActiveModel } from '../../classifier/types.js';
import type { Config } from '../../config/schema.js';
import { httpErrors, TrainingRunningError } from '../../errors.js';
import type { Logger } from '../../observability/log.js';
import { type Metrics, setActiveModel } from '../../observability/metrics.js';
import { TRAINING_FEEDBACK_LIMIT, withFeedback } from '../../pipeline/feedback-replay.js';
import type { Scanner } from '../../pipeline/types.js';
import type { ModelRecord, Storage } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { Model } from '../resources.js';
import { ErrorBody, Errors } from '../schemas.js';

export interface ModelDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  storage: Storage;
  activeModel: ActiveModel;
  modelSync: { announce(version: string): Promise<void> } | null;
  /** Replays feedback onto a version being activated. */
  scanner: Scanner;
}

export interface TrainingJob {
  id: string;
  state: 'running' | 'done' | 'failed' | 'busy';
  startedAt: string;
  finishedAt: string | null;
  version: string | null;
  error: string | null;
}

const JobBody = T.Object({
  id: T.String(),
  state: T.String(),
  startedAt: T.String(),
  finishedAt: T.Union([T.String(), T.Null()]),
  version: T.Union([T.String(), T.Null()]),
  error: T.Union([T.String(), T.Null()]),
});

/**
 * Trains on the SpamAssassin TRAIN split plus site feedback (the latest label of each content), evaluates on
 * the TEST split, stores the version (not active). The version's creation time is when the feedback was
 * read, so the replay onto it (feedback-replay.ts) begins with what came after.
 */
async function trainOnce(deps: ModelDeps): Promise<string> {
  const feedbackUntil = new Date();
  const feedback: RawLabelled[] = [];
  for await (const f of deps.storage.feedback.forTraining(feedbackUntil, TRAINING_FEEDBACK_LIMIT))
    feedback.push({ raw: f.raw, label: f.label, authSignals: f.authSignals });
  const activeRecord = await deps.storage.models.getActive();
  const activeArtefact = activeRecord ? await deps.storage.models.getArtefact(activeRecord.version) : null;
  const trained = await trainInThread({
    maxBytes: deps.config.scanner.maxScanBytes,
    versionPrefix: 'sa',
    site: [],
    bundled: true,
    feedback,
    sources: 'spamassassin-train',
    ...(activeRecord && activeArtefact
      ? { active: { version: activeRecord.version, artefact: activeArtefact } }
      : {}),
  });
  await deps.storage.models.save({
    version: trained.version,
    trainingSet: trained.trainingSet,
    evaluation: trained.evaluation,
    artefact: Buffer.from(trained.artefact.buffer, trained.artefact.byteOffset, trained.artefact.byteLength),
    createdAt: feedbackUntil,
  });
  return trained.version;
}

/**
 * A candidate trained with held-out site feedback is compared there with the version that was active when it
 * was trained (taught the same other feedback): more errors on the site's own mail refuses the activation.
 * Versions without that figure (no site feedback, a rollback) activate as before.
 */
async function refuseIfWorseOnSite(storage: Storage, version: string): Promise<void> {
  const record = (await storage.models.list()).find((m) => m.version === version);
  const site = record?.evaluation?.site;
  if (!site) return;
  const active = await storage.models.getActive();
  if (!active || active.version !== site.baseline.version) return;
  const errors = (f: { falsePositives: number; falseNegatives: number }) =>
    f.falsePositives + f.falseNegatives;
  if (errors(site.candidate) > errors(site.baseline))
    throw httpErrors.conflict(
      `${version} is worse than the active ${active.version} on ${site.ham + site.spam} held-out site reports ` +
        `(${site.candidate.falsePositives} ham flagged, ${site.candidate.falseNegatives} spam missed, vs ` +
        `${site.baseline.falsePositives} and ${site.baseline.falseNegatives}); add ?force=true to activate anyway`,
    );
}

/** What the API's routes and the console's model page both do: one code path for each action. */
export interface ModelActions {
  /** Readies and activates a stored version; a 409 when it is worse on the site's held-out mail, unless forced. */
  activate(version: string, options: { force: boolean; actor: string }): Promise<ModelRecord>;
  /** Starts a training job in the background (audited); its outcome is read from `job`. */
  train(actor: string): Promise<TrainingJob>;
  job(id: string): TrainingJob | undefined;
  /** The jobs this process started, newest first. */
  jobs(): TrainingJob[];
}

export function modelActions(deps: ModelDeps): ModelActions {
  const { storage } = deps;
  const jobs = new Map<string, TrainingJob>();
  // Activations run one at a time: two at once could switch the registry in one order and the model in
  // force in the other (a slower replay finishing last), leaving the service scoring with a version the
  // registry does not call active.
  let activating: Promise<unknown> = Promise.resolve();
  async function activateNow(version: string, { force, actor }: { force: boolean; actor: string }) {
    const artefact = await storage.models.getArtefact(version);
    if (!artefact) throw httpErrors.notFound('model version');
    if (!force) await refuseIfWorseOnSite(storage, version);
    // Readied before the switch (feedback since the version's creation replayed onto it), so no message
    // is scored by it half-taught. Feedback recorded while it is readied reaches it through the feedback
    // sync that the switch starts.
    const model = await withFeedback(deps, deserializeModel(artefact));
    const record = await storage.models.activate(version);
    deps.activeModel.set(model);
    setActiveModel(deps.metrics, version);
    await deps.modelSync?.announce(version);
    await storage.audit.write({ actor, action: 'model.activate', target: version, details: {} });
    return record;
  }
  return {
    activate(version, options) {
      const run = activating.then(() => activateNow(version, options));
      activating = run.catch(() => {});
      return run;
    },
    async train(actor) {
      // A second job here would only find the lock taken; the caller is pointed at the one that runs.
      const running = [...jobs.values()].find((j) => j.state === 'running');
      if (running) throw new TrainingRunningError(running.id);
      const job: TrainingJob = {
        id: randomUUID(),
        state: 'running',
        startedAt: new Date().toISOString(),
        finishedAt: null,
        version: null,
        error: null,
      };
      jobs.set(job.id, job);
      await storage.audit.write({ actor, action: 'model.train', target: job.id, details: {} });
      // Background: the caller answers at once; the job's outcome is read from `job(id)`.
      void storage.models
        .withTrainingLock(() => trainOnce(deps))
        .then((version) => {
          if (version === null) {
            job.state = 'busy';
            job.error = 'another instance is training';
          } else {
            job.state = 'done';
            job.version = version;
          }
        })
        .catch((err: unknown) => {
          job.state = 'failed';
          job.error = err instanceof Error ? err.message : String(err);
          deps.logger.error({ event: 'TRAIN_FAILED', err }, 'training job failed');
        })
        .finally(() => {
          job.finishedAt = new Date().toISOString();
        });
      return job;
    },
    job: (id) => jobs.get(id),
    jobs: () => [...jobs.values()].reverse(),
  };
}

export const modelRoutes: FastifyPluginAsyncTypebox<{ storage: Storage; actions: ModelActions }> = async (
  app,
  { storage, actions },
) => {
  app.get(
    '/api/v1/models',
    { config: { action: 'models:read' }, schema: { response: { 200: T.Array(Model), ...Errors } } },
    async () => storage.models.list(),
  );

  app.post(
    '/api/v1/models/:version/activate',
    {
      config: { action: 'models:activate' },
      schema: {
        params: T.Object({ version: T.String({ minLength: 1 }) }),
        querystring: T.Object({
          force: T.Optional(
            T.Boolean({
              description: 'activate even if worse than the active version on held-out site feedback',
            }),
          ),
        }),
        response: { 200: Model, ...Errors },
      },
    },
    async (request) =>
      actions.activate(request.params.version, {
        force: request.query.force === true,
        actor: actorOf(request),
      }),
  );

  app.post(
    '/api/v1/models/train',
    {
      config: { action: 'models:activate' },
      schema: { response: { 202: T.Object({ jobId: T.String() }), 409: ErrorBody, ...Errors } },
    },
    async (request, reply) => {
      const job = await actions.train(actorOf(request));
      return reply.code(202).send({ jobId: job.id });
    },
  );

  app.get(
    '/api/v1/models/jobs/:id',
    {
      config: { action: 'models:read' },
      schema: { params: T.Object({ id: T.String() }), response: { 200: JobBody, ...Errors } },
    },
    async (request) => {
      const job = actions.job(request.params.id);
      if (!job) throw httpErrors.notFound('training job');
      return job;
    },
  );
};
