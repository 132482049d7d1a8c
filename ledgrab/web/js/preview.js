// Draw a strip's pixels on a canvas, one canvas pixel per LED (CSS stretches it).
// `hex` is the preview route's format: 6 hex digits (RGB) per LED.

function toBytes(hex) {
  if (typeof hex !== "string" || hex.length % 6 !== 0 || !/^[0-9a-f]*$/i.test(hex)) return new Uint8Array();
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i += 1) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

// `brightness` (0..1) dims what is drawn as the strip dims its light.
export function drawPixels(canvas, hex, brightness = 1) {
  if (!canvas) return;
  const bytes = toBytes(hex);
  const scale = Math.min(1, Math.max(0, Number(brightness) || 0));
  if (scale !== 1) for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.round(bytes[i] * scale);
  const count = Math.floor(bytes.length / 3);
  if (!count) return;
  if (canvas.width !== count) { canvas.width = count; canvas.height = 1; }
  const context = canvas.getContext("2d");
  const image = context.createImageData(count, 1);
  for (let i = 0; i < count; i += 1) {
    image.data.set([bytes[i * 3], bytes[i * 3 + 1], bytes[i * 3 + 2], 255], i * 4);
  }
  context.putImageData(image, 0, 0);
  // Tests (and the curious) can see that the preview moves: a count and the pixels drawn.
  canvas.dataset.frame = String((Number(canvas.dataset.frame) || 0) + 1);
  canvas.dataset.pixels = Array.from(bytes.slice(0, 30), (b) => b.toString(16).padStart(2, "0")).join("");
}
