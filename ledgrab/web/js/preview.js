// Draw a strip's pixels on a canvas, one canvas pixel per LED (CSS stretches it).
// Accepts {"pixels": "#rrggbb…" list | hex string | base64 RGB} as the engine reports it.

function toBytes(preview) {
  const pixels = preview?.pixels ?? preview?.frame ?? preview;
  if (Array.isArray(pixels)) {
    const out = new Uint8Array(pixels.length * 3);
    pixels.forEach((p, i) => {
      const rgb = typeof p === "string" ? [1, 3, 5].map((o) => parseInt(p.slice(o, o + 2), 16)) : p;
      out.set(rgb.slice(0, 3), i * 3);
    });
    return out;
  }
  if (typeof pixels === "string") {
    if (/^[0-9a-f]*$/i.test(pixels) && pixels.length % 6 === 0) {
      return Uint8Array.from(pixels.match(/../g) || [], (b) => parseInt(b, 16));
    }
    return Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0));
  }
  return new Uint8Array();
}

export function drawPixels(canvas, preview) {
  if (!canvas) return;
  const bytes = toBytes(preview);
  const count = Math.floor(bytes.length / 3);
  if (!count) return;
  if (canvas.width !== count) { canvas.width = count; canvas.height = 1; }
  const context = canvas.getContext("2d");
  const image = context.createImageData(count, 1);
  for (let i = 0; i < count; i += 1) {
    image.data.set([bytes[i * 3], bytes[i * 3 + 1], bytes[i * 3 + 2], 255], i * 4);
  }
  context.putImageData(image, 0, 0);
  canvas.dataset.frame = String((Number(canvas.dataset.frame) || 0) + 1);
}
