/** Rewrites the configuration reference in docs/configuration.md from the schema (`npm run docs:config`). */
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigReference } from '../src/config/reference.js';

const page = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(page, withConfigReference(readFileSync(page, 'utf8')));
