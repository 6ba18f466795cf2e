import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The shared real data set (read-only, never copied into the repo). */
export const dataDir = path.resolve(repoRoot, '../shared/data');
export const hasData = existsSync(path.join(dataDir, 'projects'));
export const PROJECTS = ['ariel-os', 'libprio-rs', 'spin'] as const;
export const POOLS = ['bytecode-alliance', 'embark', 'google', 'isrg', 'mozilla', 'zcash'] as const;
if (!hasData) console.warn(`skipping real-data tests: ${dataDir} is absent`);
