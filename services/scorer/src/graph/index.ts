/**
 * The scorer's graph: one file per noun, each a set of plain functions over a transaction, and the
 * session that runs a transaction (`Graph.run`). Every write is a MERGE over an UNWIND batch keyed
 * by a uniquely-constrained property, so replaying an event changes nothing.
 */
export * from './session.js';
export * from './records.js';
export * from './workspace-locks.js';
export * from './advisory-links.js';
export * from './pool-audits.js';
export * from './crate-facts.js';
export * from './finding-store.js';
export * from './risk-scores.js';
