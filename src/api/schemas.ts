/** Shared TypeBox schemas. Rows from storage are described loosely (open objects) so new columns pass through. */
import { Type as T, type TSchema } from '@sinclair/typebox';

export const ErrorBody = T.Object({ error: T.String(), message: T.String() });
export const Row = T.Object({}, { additionalProperties: true });
export const PageOf = (item: TSchema) =>
  T.Object({ items: T.Array(item), nextCursor: T.Union([T.String(), T.Null()]) });
export const IdParams = T.Object({ id: T.String({ minLength: 1 }) });
export const Uuid = T.String({ format: 'uuid' });
export const Errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  429: ErrorBody,
} as const;
