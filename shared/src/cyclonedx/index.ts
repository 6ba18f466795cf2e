export * from './bom.js';
export * from './parse.js';
export * from './purl.js';
export * from './lockfile.js';
export * from './vex.js';
export * from './write.js';
