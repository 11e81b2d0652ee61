// Both schemas in the URL fragment: `#s=` + base64url(deflate-raw(JSON)). The fragment
// never reaches a server; the page restores the schemas from it on load.

const PREFIX = '#s=';

/** The fragment for `{ current, next }`. */
export async function encode(schemas) {
  const json = JSON.stringify({ v: 1, current: schemas.current, next: schemas.next });
  const stream = new Blob([json]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  return PREFIX + toBase64Url(bytes);
}

/** `{ current, next }` from a fragment made by `encode`, or null for any other fragment. */
export async function decode(fragment) {
  if (!fragment.startsWith(PREFIX)) return null;
  try {
    const bytes = fromBase64Url(fragment.slice(PREFIX.length));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    const value = JSON.parse(await new Response(stream).text());
    if (value?.v !== 1 || typeof value.current !== 'string' || typeof value.next !== 'string') return null;
    return { current: value.current, next: value.next };
  } catch {
    return null;
  }
}

function toBase64Url(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
