/** A download that failed (network, HTTP status): a warning, the candidate goes unsized. */
export class CrateFetchError extends Error {}
