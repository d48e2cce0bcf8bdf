// After `tsc`: make the bin executable (npm links it, but `node_modules/.bin` needs +x on some setups).
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/bundle/cli.js', import.meta.url), 0o755);
