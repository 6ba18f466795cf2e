export * from './errors.js';
export * from './lockfile.js';
