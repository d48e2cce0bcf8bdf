/**
 * Fastify's own schema compilers (Ajv for requests, fast-json-stringify for responses), each route's
 * schema compiled on its first request instead of while the server gets ready. Compiling every route of
 * the API and the console up front is a few hundred milliseconds of CPU on the thread that also opens the
 * store, and every millisecond of a start is mail deferred at the upstream MTAs; a route's first request
 * pays its own few milliseconds instead.
 *
 * A compilersFactory makes Fastify treat the validator as custom, which changes one thing: it no longer
 * lower-cases the property names of `headers` schemas. No route validates headers, and a route that tries
 * is refused when it is registered (so at every start and in every test), not left to match wrongly.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']
>;
type BuildValidator = NonNullable<CompilersFactory['buildValidator']>;
type BuildSerializer = NonNullable<CompilersFactory['buildSerializer']>;
/** What Fastify calls the factory with and does with its result (lib/schema-controller.js, route.js). */
type RouteValidator = ReturnType<FastifySchemaCompiler<unknown>>;
type RouteValidatorFactory = (externalSchemas: unknown, options: unknown) => FastifySchemaCompiler<unknown>;

/** Same compilers as Fastify's defaults (same options, same Ajv pool), each route compiled when first used. */
export function lazySchemaCompilers(): { buildValidator: BuildValidator; buildSerializer: BuildSerializer } {
  // @fastify/ajv-compiler's types describe Ajv's compile (schema in, Ajv function out), while Fastify calls
  // the pool's compiler with a route definition; Fastify's own types describe that call.
  const validators = AjvCompiler() as unknown as RouteValidatorFactory;
  const serializers = SerializerSelector();
  const buildValidator: RouteValidatorFactory = (externalSchemas, options) => {
    const compile = validators(externalSchemas, options);
    // A JSON body says its types: `"learnAsHam": 1` or `"role": ["admin"]` is a mistake to name, not a value
    // to convert. Query strings and path parameters are text, and keep Fastify's coercion.
    const { customOptions } = options as { customOptions?: Record<string, unknown> };
    const compileBody = validators(externalSchemas, {
      ...(options as object),
      customOptions: { ...customOptions, coerceTypes: false },
    });
    return (route) => {
      if (route.httpPart === 'headers')
        throw new Error(
          `${route.method} ${route.url}: headers schemas are not supported (see lazy-schemas.ts)`,
        );
      const compileThis = route.httpPart === 'body' ? compileBody : compile;
      let compiled: RouteValidator | undefined;
      const validate: RouteValidator = (data: unknown) => {
        compiled ??= compileThis(route);
        const result = compiled(data);
        // Fastify reads a failed validation's details from the function it was given.
        validate.errors = compiled.errors;
        return result;
      };
      validate.errors = null;
      return validate;
    };
  };
  const buildSerializer: BuildSerializer = (externalSchemas, options) => {
    const compile = serializers(externalSchemas, options);
    return (route) => {
      let compiled: ((doc: unknown) => string) | undefined;
      return (doc: unknown) => {
        compiled ??= compile(route);
        return compiled(doc);
      };
    };
  };
  // The reverse of the cast above: Fastify's option is typed with @fastify/ajv-compiler's type.
  return { buildValidator: buildValidator as unknown as BuildValidator, buildSerializer };
}
