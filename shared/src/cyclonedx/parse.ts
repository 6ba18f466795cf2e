/** A CycloneDX document from its text, JSON or XML (the two readers give the same `CycloneDxBom`). */
import { FormatError } from '../errors.js';
import { parseJsonText } from '../json.js';
import { readCycloneDxJson, type CycloneDxBom } from './bom.js';
import { readCycloneDxXml } from './xml.js';

/** XML when the text starts with `<`, else JSON. */
export function parseCycloneDx(text: string, file: string): CycloneDxBom {
  if (text.trim() === '') throw new FormatError(file, 'empty file: not a CycloneDX document', { line: 1 });
  if (text.trimStart().startsWith('<')) return readCycloneDxXml(text, file);
  return readCycloneDxJson(parseJsonText(text, file), file);
}
