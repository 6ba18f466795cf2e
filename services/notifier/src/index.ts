export * from './slack.js';
export * from './deliver.js';
export * from './deliveries.js';
export * from './notifier.js';
