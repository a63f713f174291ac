/** Bodies from this size on are gzipped: below it, gzip's header and the work cost more than they save. */
export const GZIP_FROM_BYTES = 2048;

type CompressionStreamClass = new (format: 'gzip') => unknown;
interface BlobLike {
  stream(): { pipeThrough(transform: unknown): unknown };
}

/** `text` gzipped with the platform's CompressionStream, or undefined where the platform has none. */
export async function gzip(text: string): Promise<Uint8Array | undefined> {
  const platform = globalThis as {
    CompressionStream?: CompressionStreamClass;
    Blob?: new (parts: string[]) => BlobLike;
    Response?: new (body: unknown) => { arrayBuffer(): Promise<ArrayBuffer> };
  };
  const { CompressionStream, Blob, Response } = platform;
  if (CompressionStream === undefined || Blob === undefined || Response === undefined) return undefined;
  const compressed = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(compressed).arrayBuffer());
}
