/**
 * Digest links, for recipients without an account: `GET /ui/d/<token>` only shows what the link would do
 * (link scanners prefetch GETs), and the page's button POSTs it. The token is the credential: HMAC-signed,
 * expiring, bound to one row, its recipient and one action; a release token works once.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type DigestClaim, type RowClaim, tokenHash, verifyToken } from '../../digest/token.js';
import { HttpError, httpErrors } from '../../errors.js';
import { addListEntry } from '../../lists/edit.js';
import { domainOf } from '../../lists/entry.js';
import { deleteItems, releaseItem } from '../../quarantine/actions.js';
import type { QuarantineItem } from '../../store/types.js';
import { html } from '../html.js';
import { score, when } from '../layout.js';
import { sendPage } from '../route.js';
import { FORM } from '../session.js';
import type { UiDeps } from '../types.js';

/** The token's claim, or the refusal a recipient is shown: 410 when expired, 403 when not ours. */
export function claimOf(key: Buffer, token: string): DigestClaim {
  const v = verifyToken(key, token);
  if (v.ok) return v.claim;
  const text = {
    TOKEN_EXPIRED: 'this link has expired; wait for the next digest or ask your administrator',
    TOKEN_FORGED: 'this link is not valid',
    TOKEN_MALFORMED: 'this link is not valid',
  }[v.code];
  throw new HttpError(v.code === 'TOKEN_EXPIRED' ? 410 : 403, v.code, text);
}

export const tokenMisused = () =>
  new HttpError(403, 'TOKEN_MISUSED', 'this link is for something else; use it where the digest put it');

const VERB = { release: 'Release', delete: 'Delete', allow: 'Always allow the sender of' } as const;

export const digestRoutes: FastifyPluginAsync<UiDeps> = async (app, deps) => {
  const { storage } = deps;

  async function resolve(
    request: FastifyRequest,
  ): Promise<{ claim: RowClaim; item: QuarantineItem; token: string }> {
    const { token } = request.params as { token: string };
    const claim = claimOf(deps.signingKey, token);
    // A subscription link names no row: it is refused here as it is by its own route for row links.
    if (claim.act === 'digests') throw tokenMisused();
    const item = await storage.quarantine.get(claim.row).catch(() => null);
    // Bound to the recipient: a row whose recipient is another is as good as absent.
    if (!item || item.recipient.toLowerCase() !== claim.to) throw httpErrors.notFound('message');
    return { claim, item, token };
  }

  const summary = (item: QuarantineItem) =>
    html`<dl class="kv"><dt>For</dt><dd>${item.recipient}</dd><dt>From</dt><dd>${item.mailFrom || '<>'}</dd>
      <dt>Subject</dt><dd>${item.subject ?? '(no subject)'}</dd><dt>Score</dt><dd>${score(item.score)}</dd>
      <dt>Held since</dt><dd>${when(item.createdAt)}</dd><dt>State</dt><dd>${item.state}</dd></dl>`;

  app.get('/ui/d/:token', { config: { action: 'public' } }, async (request, reply) => {
    const { claim, item, token } = await resolve(request);
    const open = item.state === 'held' || claim.act === 'allow';
    return sendPage(reply, null, {
      title: `${VERB[claim.act]} this message?`,
      body: html`${summary(item)}
      ${
        open
          ? html`<form method="post" action="/ui/d/${token}"><p>
            <button type="submit" class="${claim.act === 'delete' ? 'danger' : 'primary'}">${
              claim.act === 'allow'
                ? `Always allow ${item.mailFrom}${item.state === 'held' ? ' and release' : ''}`
                : claim.act === 'release'
                  ? 'Release to my inbox'
                  : 'Delete'
            }</button></p></form>`
          : html`<p class="notice">This message is already ${item.state}.</p>`
      }`,
    });
  });

  app.post('/ui/d/:token', { config: { action: 'public', bodyTypes: FORM } }, async (request, reply) => {
    const { claim, item, token } = await resolve(request);
    const actor = `digest:${claim.to}`;
    let done: string;
    let state = item.state;
    if (claim.act === 'delete') {
      const changed = await deleteItems(storage, [item.id], actor);
      if (changed.length === 0) throw httpErrors.conflict(`message is ${item.state}`);
      done = 'Deleted.';
      state = 'deleted';
    } else {
      if (claim.act === 'allow') {
        if (!item.mailFrom) throw httpErrors.badRequest('the null sender cannot be allowed');
        // Scoped to the recipient's domain, and for mail that authenticates as the sender's domain only: one
        // recipient's click must not let a forger of that address past the filter for the whole domain.
        await addListEntry(
          deps,
          { list: 'allow', value: item.mailFrom, scope: domainOf(item.recipient), alignedOnly: true },
          actor,
        );
      }
      if (item.state === 'held') {
        const hash = tokenHash(token);
        if (!(await storage.digest.spend(hash))) throw httpErrors.conflict('this link was already used');
        try {
          await releaseItem(deps, item.id, actor, false);
        } catch (err) {
          await storage.digest.unspend(hash);
          throw err;
        }
        done =
          claim.act === 'allow'
            ? `${item.mailFrom} is allowed; the message was released.`
            : 'Released: the message is on its way to your inbox.';
        state = 'released';
      } else if (claim.act === 'allow') done = `${item.mailFrom} is allowed.`;
      else throw httpErrors.conflict(`message is ${item.state}`);
    }
    return sendPage(reply, null, {
      title: 'Done',
      body: html`<p class="notice" role="status">${done}</p>${summary({ ...item, state })}`,
    });
  });
};
