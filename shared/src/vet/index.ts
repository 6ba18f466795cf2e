export * from './format.js';
export { stringRepr, detectStringStyle, type StringStyle } from './toml.js';
