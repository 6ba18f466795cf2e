export { startConsole, DEFAULT_LISTEN, type ConsoleHandle, type ConsoleOptions } from './console.js';
export { CONSOLE_TOKENS_ENV, CONSOLE_TOKENS_FILE_ENV, SESSION_COOKIE } from './auth.js';
export { parseSavedQueries, savedParams, ParamError, type SavedQuery } from './saved.js';
export { ConsoleHistory } from './history.js';
