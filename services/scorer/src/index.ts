export { startScorer, type ScorerHandle } from './main.js';
export { Scorer } from './scorer.js';
export { Graph, SCHEMA } from './graph/index.js';
export * from './decide-coverage.js';
export * from './decide-maintainer.js';
