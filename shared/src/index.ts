export * from './errors.js';
export * from './lockfile.js';
export * from './rustsemver.js';
export * from './advisory.js';
export * from './severity.js';
export * from './events.js';
export * from './findings.js';
export * from './vet/index.js';
