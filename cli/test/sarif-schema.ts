/**
 * The official SARIF 2.1.0 schema (test/schemas/, source in its README) compiled once with Ajv's
 * draft-04 class and the formats the schema uses (docs/adr/0012-sarif-schema-validation.md).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { root } from './helpers.js';

// CommonJS packages whose `module.exports` is the class / plugin: required, so that the types
// (which describe `exports.default`) and the value agree under NodeNext.
const require = createRequire(import.meta.url);
const Ajv = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);

/** Validates a SARIF log; `validateSarif.errors` says why not. */
export const validateSarif = ajv.compile(JSON.parse(readFileSync(path.join(root, 'cli/test/schemas/sarif-schema-2.1.0.json'), 'utf8')));
