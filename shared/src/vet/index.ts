export * from './format.js';
export { stringRepr, detectStringStyle, type StringStyle } from './toml.js';
export * from './graph.js';
export * from './resolver.js';
export * from './check.js';
export { cargoReqMatches } from './versionreq.js';
export * from './coverage.js';
