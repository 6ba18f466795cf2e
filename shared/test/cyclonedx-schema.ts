/**
 * The official CycloneDX JSON schemas (1.4, 1.5, 1.6), as @cyclonedx/cyclonedx-library ships them
 * under res/schema/, checked with ajv (draft-07) and the formats they use (ajv-formats and
 * ajv-formats-draft2019 for iri-reference and idn-email). No network: the schemas are files.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';

// Both plugins are CommonJS modules whose export is the plugin function.
const require = createRequire(import.meta.url);
const addFormats = require('ajv-formats') as (ajv: Ajv) => Ajv;
const addFormats2019 = require('ajv-formats-draft2019') as (ajv: Ajv) => Ajv;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const schemaDir = path.join(root, 'node_modules/@cyclonedx/cyclonedx-library/res/schema');
const load = (name: string) => JSON.parse(readFileSync(path.join(schemaDir, name), 'utf8')) as Record<string, unknown>;

const validators = new Map<string, ValidateFunction>();

function validator(version: string): ValidateFunction {
  let v = validators.get(version);
  if (v) return v;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  addFormats2019(ajv);
  // The bom schemas refer to these by their file names, relative to http://cyclonedx.org/schema/.
  for (const name of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json'])
    ajv.addSchema({ ...load(name), $id: `http://cyclonedx.org/schema/${name}` });
  v = ajv.compile(load(`bom-${version}.SNAPSHOT.schema.json`));
  validators.set(version, v);
  return v;
}

/** The schema's complaints about a document (`/path: message`), none when it is valid. */
export function validateCycloneDx(doc: unknown, version = '1.6'): string[] {
  const v = validator(version);
  return v(doc)
    ? []
    : (v.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}
