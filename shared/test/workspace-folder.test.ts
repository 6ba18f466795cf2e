/**
 * The one reader of a workspace on disk (CLI and ingest alike): which files beside the packages
 * belong to the workspace, and the inputs it refuses, each naming the path.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWorkspaceFolder, WorkspaceFolderError } from '../src/index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A folder with these files (path → text). */
function folder(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'ws-folder-'));
  dirs.push(d);
  for (const [f, t] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    writeFileSync(path.join(d, f), t);
  }
  return d;
}

const LOCK = 'version = 4\n';

describe('readWorkspaceFolder', () => {
  it('a folder: Cargo.lock, store, metadata, VEX in code-point order, deny.toml, the root manifest', () => {
    const d = folder({
      'Cargo.lock': LOCK,
      'Cargo.toml': '[workspace]\n',
      'supply-chain/config.toml': 'c',
      'supply-chain/audits.toml': 'a',
      'cargo-metadata.json': '{}',
      'b.vex.json': 'b',
      'B.openvex.json': 'B',
      'vex.json': 'v',
      '.deny.toml': 'second',
      '.cargo/deny.toml': 'third',
    });
    const w = readWorkspaceFolder(d);
    expect(w.lockPath).toBe(path.join(d, 'Cargo.lock'));
    expect(w.store).toEqual({ config: 'c', audits: 'a' });
    expect(w.storeDir).toBe(path.join(d, 'supply-chain'));
    expect(w.metadata).toEqual({ path: path.join(d, 'cargo-metadata.json'), text: '{}' });
    expect(w.vex.map((v) => v.name)).toEqual(['B.openvex.json', 'b.vex.json', 'vex.json']);
    expect(w.denyConfig).toEqual({ path: path.join(d, '.deny.toml'), text: 'second' });
    expect(w.manifestPath).toBe(path.join(d, 'Cargo.toml'));
  });

  it('a file named Cargo.lock owns its folder (metadata and VEX beside it are read, as for a folder)', () => {
    const d = folder({ 'Cargo.lock': LOCK, 'cargo-metadata.json': '{}', 'vex.json': 'v', 'deny.toml': 'd' });
    const w = readWorkspaceFolder(path.join(d, 'Cargo.lock'));
    expect(w.metadata?.text).toBe('{}');
    expect(w.vex.map((v) => v.name)).toEqual(['vex.json']);
    expect(w.denyConfig?.text).toBe('d');
  });

  it("a watched folder's lone <id>.lock does not own the folder: its store only", () => {
    const d = folder({ 'app.lock': LOCK, 'cargo-metadata.json': '{}', 'vex.json': 'v', 'deny.toml': 'd', 'Cargo.toml': '' });
    const w = readWorkspaceFolder(path.join(d, 'app.lock'));
    expect(w.ownsFolder).toBe(false);
    expect(w.metadata).toBeUndefined();
    expect(w.vex).toEqual([]);
    expect(w.denyConfig).toBeUndefined();
    expect(w.manifestPath).toBeUndefined();
  });

  it('an SBOM when there is no Cargo.lock; several SBOMs are refused, named', () => {
    const one = folder({ 'bom.json': '{}', 'deny.toml': 'd' });
    expect(readWorkspaceFolder(one).lockPath).toBe(path.join(one, 'bom.json'));
    expect(readWorkspaceFolder(path.join(one, 'bom.json')).denyConfig?.text).toBe('d');
    const two = folder({ 'bom.json': '{}', 'app.cdx.json': '{}' });
    expect(() => readWorkspaceFolder(two)).toThrow(
      new WorkspaceFolderError(two, 'no Cargo.lock, and 2 CycloneDX SBOMs (app.cdx.json, bom.json): name the one to read'),
    );
  });

  it('a VEX file that is a symbolic link is read (a file is what it points to)', () => {
    const d = folder({ 'Cargo.lock': LOCK, 'real.json': 'r' });
    symlinkSync(path.join(d, 'real.json'), path.join(d, 'vex.json'));
    expect(readWorkspaceFolder(d).vex.map((v) => v.text)).toEqual(['r']);
  });

  it('refuses a supply-chain/ without config.toml, a missing folder and a folder without packages', () => {
    const d = folder({ 'Cargo.lock': LOCK, 'supply-chain/audits.toml': '' });
    expect(() => readWorkspaceFolder(d)).toThrow(`${path.join(d, 'supply-chain')}: not a cargo-vet store (no config.toml)`);
    expect(() => readWorkspaceFolder(path.join(d, 'nope'))).toThrow(`${path.join(d, 'nope')}: no such file or directory`);
    const empty = folder({ 'README.md': '' });
    expect(() => readWorkspaceFolder(empty)).toThrow(`${empty}: no Cargo.lock (nor CycloneDX SBOM) there`);
  });

  it('files asked for by option replace those beside; extra VEX files come after, once', () => {
    const d = folder({ 'Cargo.lock': LOCK, 'vex.json': 'v', 'other/m.json': '[]', 'other/x.vex.json': 'x', 'st/config.toml': 's' });
    const w = readWorkspaceFolder(d, {
      metadata: path.join(d, 'other/m.json'),
      store: path.join(d, 'st'),
      vex: [path.join(d, 'other/x.vex.json'), path.join(d, 'vex.json')],
    });
    expect(w.metadata?.text).toBe('[]');
    expect(w.store).toEqual({ config: 's' });
    expect(w.vex.map((v) => v.text)).toEqual(['v', 'x']);
  });
});
