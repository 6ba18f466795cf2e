/**
 * The three parts of node-semver that cratewatch uses (parse, compare, the SemVer class), from
 * their own modules: `import semver from 'semver'` loads its 47 modules — ranges, coercion, the
 * lot — at every start of the CLI, a measurable part of a cold `scan`.
 */
import SemVer from 'semver/classes/semver.js';
import compare from 'semver/functions/compare.js';
import parse from 'semver/functions/parse.js';

const semver = { SemVer, compare, parse };
export default semver;
