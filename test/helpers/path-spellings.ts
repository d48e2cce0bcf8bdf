/** Ways of spelling one URL path that routers and proxies may treat as the same route (security tests). */

const pct = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/**
 * Spellings find-my-way (Fastify's router) may treat as the same route: it percent-decodes the path before
 * matching (any character, upper- or lower-case hex), and under other router options would fold duplicate
 * slashes, trailing slashes, case and `;` parameters; dot segments are resolved by some proxies in front.
 */
export function spellings(path: string): string[] {
  const out = new Set<string>([path]);
  for (let i = 0; i < path.length; i++) {
    const c = path[i] as string;
    if (c === '/') continue;
    out.add(path.slice(0, i) + pct(c) + path.slice(i + 1));
    out.add(path.slice(0, i) + pct(c).toUpperCase() + path.slice(i + 1));
  }
  const segments = path.split('/');
  out.add(`/${path}`);
  out.add(path.replace(/\//g, '//'));
  out.add(`${path}/`);
  out.add(path.toUpperCase());
  out.add(path.replace(/^\/(\w)/, (_m, c: string) => `/${c.toUpperCase()}`));
  out.add(`${path};x=1`);
  out.add(`${path}%3F`);
  out.add(`${path}%3Fx=1`);
  out.add(`${path}%23x`);
  out.add(`${path}?x=1#y`);
  out.add(`/./${path.slice(1)}`);
  out.add(`/x/..${path}`);
  out.add(`${segments.slice(0, 2).join('/')}/../${segments.slice(1).join('/')}`);
  out.add(path.replace(/\//g, '%2f'));
  out.add(path.replace(/\//g, '\\'));
  return [...out];
}
