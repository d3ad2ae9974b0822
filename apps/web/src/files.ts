import type { Request } from './protocol.js';

/** A file with its path inside what was opened (a folder's relative path, or just its name). */
export interface PickedFile {
  path: string;
  file: File;
}

/**
 * The open request for files picked or dropped together: the .onnx file is the model, the others are
 * its external data, keyed by their path relative to the model's folder. Several .onnx files: the first
 * by path is opened (`others` names the rest); none: an `Error` saying what to open.
 *
 * @example
 * ```ts
 * const { request, transfer } = await openRequest([{ path: 'm/model.onnx', file }, { path: 'm/model.onnx.data', file: d }]);
 * ```
 */
export async function openRequest(
  files: readonly PickedFile[],
): Promise<{ request: Extract<Request, { type: 'open' }>; transfer: ArrayBuffer[]; others: string[] }> {
  if (files.length === 0) throw new Error('no file was opened');
  const models = files.filter((f) => /\.onnx$/i.test(f.path)).sort((a, b) => a.path.localeCompare(b.path));
  const model = models[0] ?? (files.length === 1 ? files[0] : undefined);
  if (!model)
    throw new Error(
      `none of the ${files.length} files opened is an .onnx model (${files
        .slice(0, 5)
        .map((f) => f.path)
        .join(', ')}${files.length > 5 ? ', …' : ''}); open the model file, or its folder`,
    );
  const dir = model.path.includes('/') ? model.path.slice(0, model.path.lastIndexOf('/') + 1) : '';
  const external: Record<string, ArrayBuffer> = {};
  for (const f of files) {
    if (f === model || /\.onnx$/i.test(f.path) || !f.path.startsWith(dir)) continue;
    external[f.path.slice(dir.length)] = await f.file.arrayBuffer();
  }
  const bytes = await model.file.arrayBuffer();
  return {
    request: { type: 'open', name: model.file.name, bytes, external },
    transfer: [bytes, ...Object.values(external)],
    others: models.slice(1).map((m) => m.path),
  };
}

/** The files of an `<input type="file">` (a folder input gives relative paths). @example picked(input.files) */
export function picked(list: FileList | null): PickedFile[] {
  return [...(list ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/**
 * The files of a drop, walking dropped folders.
 * @example const files = await dropped(event.dataTransfer);
 */
export async function dropped(dt: DataTransfer): Promise<PickedFile[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return picked(dt.files);
  const out: PickedFile[] = [];
  const walk = async (e: FileSystemEntry, prefix: string): Promise<void> => {
    if (e.isFile) {
      const file = await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej));
      out.push({ path: prefix + e.name, file });
    } else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c, `${prefix}${e.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}
