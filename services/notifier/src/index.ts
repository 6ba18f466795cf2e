export * from './slack.js';
export * from './deliver.js';
export * from './deliveries.js';
export * from './compacted.js';
export * from './routes.js';
export * from './feed.js';
export * from './notifier.js';
export * from './window.js';
