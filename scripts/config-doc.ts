/** Rewrites the configuration reference in README.md from the schema (`npm run docs:config`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigReference } from '../src/config/reference.js';

const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withConfigReference(readFileSync(readme, 'utf8')));
