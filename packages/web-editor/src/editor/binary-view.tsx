import type { ActiveBinary } from './editor-store.js';

/**
 * A binary file in the editor area: images are shown (checkerboard behind transparency), other
 * files (fonts, archives) by type and size. Collaborators' uploads of new bytes show up here.
 */
export function BinaryView(props: { file: ActiveBinary }) {
  const { file } = props;
  const image = file.contentType.startsWith('image/');
  return (
    <div class="editor-host binary-view" data-path={file.path} data-kind="binary">
      {image ? <img class="binary-image" src={file.url} alt={file.path} /> : null}
      <div class="binary-meta">
        {file.path} · {file.contentType.split(';')[0]} · {formatBytes(file.size)}
        {image ? null : ' · a binary file (no text to edit)'}
      </div>
    </div>
  );
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
