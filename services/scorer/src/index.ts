export { startScorer, type ScorerHandle } from './main.js';
export { Scorer } from './scorer.js';
export { Graph, SCHEMA } from './graph.js';
export * from './coverage.js';
export * from './maintainer.js';
