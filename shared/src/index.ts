export * from './errors.js';
export * from './lockfile.js';
export * from './rustsemver.js';
export * from './advisory.js';
