export * from './log.js';
export * from './kafka.js';
export * from './topics.js';
export * from './neo4j.js';
export * from './checkpoint.js';
export * from './lifecycle.js';
export * from './retry.js';
