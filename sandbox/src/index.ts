export * from './sandbox.js';
export { ALLOWED_PROCEDURES, QUERY_LIMITS, QueryLimitError, queryLimits, type QueryLimits, type RefusedFamily } from '@cratewatch/shared';
