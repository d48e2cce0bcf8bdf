/** Shared TypeBox schemas of requests and errors; the resources are in resources.ts. */
import { Type as T, type TSchema } from '@sinclair/typebox';
import { HttpError } from '../errors.js';
import { isListingTime } from '../store/listing.js';

export const ErrorBody = T.Object({ error: T.String(), message: T.String() });
export const PageOf = (item: TSchema) =>
  T.Object({ items: T.Array(item), nextCursor: T.Union([T.String(), T.Null()]) });
/** Every stored row's id is a UUID: anything else is a 400 naming the field, never a database error. */
export const Uuid = T.String({ format: 'uuid' });
export const IdParams = T.Object({ id: Uuid });
/** Opaque keyset cursor (base64url); its content is checked when decoded. */
export const Cursor = T.String({ pattern: '^[A-Za-z0-9_-]{1,512}$' });
/** A listing's time bound (since, until): ISO 8601 with its zone; `timeOf` reads it. */
export const TimeQuery = T.String({ format: 'date-time' });

/**
 * A time bound as the store takes it. The format lets the year 0000 through (and 0001 with a positive offset
 * is the year 0 in UTC), which Postgres refuses: a 400 naming the field, as the format's own.
 */
export function timeOf(field: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (!isListingTime(d))
    throw new HttpError(
      400,
      'VALIDATION_FAILED',
      `querystring/${field} must be a time in the years 1 to 9999, such as 2026-12-01T00:00:00Z`,
    );
  return d;
}

/** Where the previous page of a listing stopped, and how many rows a page has. */
export const PageQuery = {
  cursor: T.Optional(Cursor),
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 500 })),
};
export const Errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  429: ErrorBody,
} as const;
/** A stored message's bytes by id, sent as message/rfc822. */
export const RawById = {
  params: IdParams,
  response: { 200: T.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...Errors },
};
