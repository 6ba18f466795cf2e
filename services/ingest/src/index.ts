export { RustsecSource, type RustsecCheckpoint, type PollResult } from './sources/rustsec.js';
export { WorkspaceSource, readWorkspaceFiles, type WorkspaceRef, type WorkspaceCheckpoint } from './sources/workspaces.js';
