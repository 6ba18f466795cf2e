export * from './format.js';
export { stringRepr } from './toml.js';
export { compareStr, compareVetVersion, displayVersionReq } from './order.js';
export * from './graph.js';
export * from './resolver.js';
export * from './check.js';
export * from './certify.js';
export { cargoReqMatches } from './versionreq.js';
export * from './coverage.js';
